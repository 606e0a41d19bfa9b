package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/facts"
)

// Verdict is what a check found of one archive.
type Verdict string

// Verdicts.
const (
	// OK: every check passed.
	OK Verdict = "ok"
	// Damaged: the archive's bytes are wrong (or fail authentication).
	Damaged Verdict = "damaged"
	// Unreadable: its store could not deliver it.
	Unreadable Verdict = "unreadable"
	// Unchecked: its checksums are right, the test restore could not be
	// made.
	Unchecked Verdict = "unchecked"
	// NoKey: no configured identity opens it.
	NoKey Verdict = "no key"
	// NotTried: its store's endpoint stopped answering before.
	NotTried Verdict = "not tried"
)

// Result is the verdict on one archive.
type Result struct {
	Archive facts.ArchiveRow
	Verdict Verdict
	// Err says why, when the verdict is not OK.
	Err error
	// Checks are the test restores of a deep check that passed.
	Checks []runner.DeepCheck
}

// Totals counts the archives checked, damaged, and unreadable or
// unchecked (no key and not tried included).
type Totals struct {
	Checked, Failed, Unreadable int
}

// Options tune Run.
type Options struct {
	// Deep test-restores every schema dump into a scratch database.
	Deep bool
	// Logger receives the damage records that could not be kept up to
	// date; nil discards them.
	Logger *slog.Logger
}

// Run checks the complete archives of rows one after the other and hands
// each verdict to report. Once a store's endpoint stops answering, its
// remaining archives are NotTried. It stops with the context's error when
// ctx is cancelled.
func Run(ctx context.Context, rows []facts.ArchiveRow, opts Options, report func(Result)) (Totals, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	marks := &damageMarks{logger: logger}
	// unreachable holds, per store, why its endpoint stopped answering.
	unreachable := map[string]error{}
	var t Totals
	for _, r := range rows {
		if r.Status == plan.ArchivePartial {
			continue
		}
		t.Checked++
		if why := unreachable[r.Store]; why != nil {
			t.Unreadable++
			report(Result{Archive: r, Verdict: NotTried, Err: why})
			continue
		}
		checks, err := one(ctx, r, opts.Deep)
		if err != nil && ctx.Err() != nil {
			return t, err
		}
		res := judge(r, checks, err)
		switch res.Verdict {
		case OK:
			marks.clear(ctx, r)
		case Damaged:
			t.Failed++
			var d *runner.DamagedError
			if errors.As(err, &d) {
				marks.mark(ctx, r, d)
			}
		case Unreadable:
			t.Unreadable++
			if errors.Is(err, store.ErrUnreachable) {
				unreachable[r.Store] = res.Err
			}
		default:
			t.Unreadable++
		}
		report(res)
	}
	return t, nil
}

// judge turns the outcome of one check into a verdict and its reason.
func judge(r facts.ArchiveRow, checks []runner.DeepCheck, err error) Result {
	var (
		u         *runner.UnreadableError
		unchecked *runner.UncheckedError
		d         *runner.DamagedError
	)
	switch {
	case err == nil:
		return Result{Archive: r, Verdict: OK, Checks: checks}
	case facts.IsKeyError(err):
		return Result{Archive: r, Verdict: NoKey, Err: errors.Unwrap(err)}
	case errors.As(err, &unchecked):
		return Result{Archive: r, Verdict: Unchecked, Err: unchecked}
	case errors.As(err, &u):
		return Result{Archive: r, Verdict: Unreadable, Err: u.Err}
	case errors.As(err, &d):
		return Result{Archive: r, Verdict: Damaged, Err: d.Err}
	}
	return Result{Archive: r, Verdict: Damaged, Err: err}
}

// one checks one archive; deep adds test restores, whose checks it
// returns. An archive its store could not deliver is a
// *runner.UnreadableError; a damaged one a *runner.DamagedError; a deep
// check that fails otherwise (the test restore) returns its own error.
func one(ctx context.Context, r facts.ArchiveRow, deep bool) ([]runner.DeepCheck, error) {
	obj, err := r.Handle.Open(ctx, r.Ref, r.Archive)
	if err != nil {
		return nil, runner.OpenError(r.Store, r.Ref, r.Archive, err)
	}
	defer obj.Close()
	t := runner.TrackReads(obj)
	if !deep {
		rd, err := archive.Open(t, obj.Size())
		if err == nil {
			err = runner.VerifyArchive(ctx, rd)
		}
		if err == nil {
			return nil, runner.VerifyPacks(ctx, r.Handle, r.Ref, r.Archive, t, obj.Size())
		}
		return nil, runner.Classify(ctx, r.Store, r.Ref, r.Archive, t, err)
	}
	var db *config.Database
	if r.Res != nil {
		db = r.Res.Database
	}
	if err := runner.VerifyPacks(ctx, r.Handle, r.Ref, r.Archive, t, obj.Size()); err != nil {
		return nil, err
	}
	checks, err := runner.VerifyDeep(ctx, t, obj.Size(), db)
	if err != nil {
		if t.Err() != nil {
			return nil, runner.Classify(ctx, r.Store, r.Ref, r.Archive, t, err)
		}
		return nil, err
	}
	var problems []string
	for _, c := range checks {
		for _, p := range c.Problems {
			problems = append(problems, c.Schema+": "+p)
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("test restore differs from the manifest: %s", strings.Join(problems, "; "))
	}
	return checks, nil
}
