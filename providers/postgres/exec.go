package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ExecSQL runs sql — one or more statements — in database c.DBName in one
// transaction: all of it takes effect or none. It is how after_restore hooks
// run their SQL.
func ExecSQL(ctx context.Context, c ConnConfig, sql string) error {
	conn, err := Connect(ctx, c)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sql)
		return err
	})
	if err != nil {
		return fmt.Errorf("run SQL in database %q: %w", c.DBName, c.scrub(err))
	}
	return nil
}
