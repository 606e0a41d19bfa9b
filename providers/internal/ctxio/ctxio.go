// Package ctxio stops a long copy once its context is done: Reader fails
// the reads of an io.Reader with the context's error, so that io.Copy and
// its kin return between two reads instead of running to the end.
package ctxio

import (
	"context"
	"io"
)

// Reader returns r whose reads fail with ctx's error once ctx is done.
func Reader(ctx context.Context, r io.Reader) io.Reader { return reader{ctx: ctx, r: r} }

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (c reader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
