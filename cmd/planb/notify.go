package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/notify"
	"github.com/planb-backup/planb/runner/notice"
)

// notifyBound is how long apply and verify wait at their end for their
// notifications to be delivered; what is still on its way then is given
// up and logged.
const notifyBound = 10 * time.Second

// sendsNotifications gives cmd (apply or verify) a --no-notify flag and
// makes it send the notifications of the configuration's notify blocks:
// apply its start, both their success or failure. A notification never
// changes the exit code; one that cannot be delivered is a warning.
func (g *globals) sendsNotifications(cmd *cobra.Command) {
	var off bool
	cmd.Flags().BoolVar(&off, "no-notify", false, "send no notifications (notify blocks), for manual runs")
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if off {
			return run(c, args)
		}
		n := g.startNotifications(c.Name())
		err := run(c, args)
		if n != nil {
			g.finishNotifications(c.Context(), n, err)
		}
		return err
	}
}

// startNotifications starts a Notifier for the notify blocks of the
// configuration and, for apply, sends the start. It returns nil when there
// is nothing to notify: no notify block, or a configuration that does not
// load (the command reports that itself).
func (g *globals) startNotifications(command string) *notify.Notifier {
	cfg, diags, err := g.loadConfig(false)
	if err != nil || diags.HasErrors() || cfg == nil {
		return nil
	}
	targets := g.notifyTargets(cfg)
	if len(targets) == 0 {
		return nil
	}
	n := notify.New(targets, notify.Options{UserAgent: "planb/" + version, Logger: g.logger})
	g.report = notice.New(command, cfg.Node, version, time.Now())
	if command == "apply" {
		g.report.Summary.Text = g.report.Summary.Title()
		n.Notify(g.report.Summary)
	}
	return n
}

// finishNotifications sends the end of the command that returned err, and
// waits for the notifications at most notifyBound.
func (g *globals) finishNotifications(ctx context.Context, n *notify.Notifier, err error) {
	code := exitCode(err)
	if err != nil && ctx.Err() != nil {
		code = exitInterrupted
	}
	s := g.report.Summarize(time.Now(), code, err)
	n.Notify(s)
	n.Close(notifyBound)
}

// notifyTargets turns the notify blocks into targets. A block whose URL,
// token or header comes from a sensitive variable without a value is left
// out with a warning naming the variable.
func (g *globals) notifyTargets(cfg *config.Config) []notify.Target {
	var out []notify.Target
	for _, nb := range cfg.Notifiers {
		if err := nb.MissingSecret(); err != nil {
			g.logger.Warn("notifications not sent", "notify", "notify."+nb.Name, "err", err)
			continue
		}
		t := notify.Target{
			Name: nb.Name, Kind: notify.Kind(nb.Kind), URL: nb.URL.Reveal(), Host: nb.Host,
			Token: nb.Token.Reveal(), Headers: map[string]string{},
		}
		for k, v := range nb.Headers {
			t.Headers[k] = v.Reveal()
		}
		for _, e := range nb.On {
			t.On = append(t.On, notify.Event(e))
		}
		out = append(out, t)
	}
	return out
}
