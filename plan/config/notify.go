package config

import (
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// NotifyKind is the service a notify block sends to.
type NotifyKind string

const (
	// Healthchecks pings a healthchecks.io check: URL/start, URL, URL/fail.
	Healthchecks NotifyKind = "healthchecks"
	// Webhook POSTs the JSON summary to a URL.
	Webhook NotifyKind = "webhook"
	// Ntfy POSTs the one-line summary to an ntfy topic.
	Ntfy NotifyKind = "ntfy"
)

// NotifyEvent is a moment of a run that a notifier can be told about.
type NotifyEvent string

const (
	// EventStart is sent when apply begins.
	EventStart NotifyEvent = "start"
	// EventSuccess is sent when apply or verify ends with exit code 0.
	EventSuccess NotifyEvent = "success"
	// EventFailure is sent when apply or verify ends with any other exit
	// code (a failed step, an interrupt, a damaged archive, …).
	EventFailure NotifyEvent = "failure"
)

// NotifyEvents are the events, in the order of a run.
var NotifyEvents = []NotifyEvent{EventStart, EventSuccess, EventFailure}

// DefaultEvents are the events a notifier of this kind is sent when its
// block does not set on: every event for healthchecks (a check expects its
// start and end pings), failures only for webhooks and ntfy.
func (k NotifyKind) DefaultEvents() []NotifyEvent {
	if k == Healthchecks {
		return slices.Clone(NotifyEvents)
	}
	return []NotifyEvent{EventFailure}
}

// Notifier is a notify block: where the outcome of apply and verify is
// sent. Its URL, header values and token are secrets: the path and query of
// a ping URL or a webhook are credentials of their own.
type Notifier struct {
	Name string
	Kind NotifyKind
	// URL is where notifications go.
	URL Secret
	// Host is the URL's host, the most of it messages may show; "" when
	// the URL comes from a sensitive value or is not known.
	Host string
	// Headers are the extra HTTP headers of a webhook, by name.
	Headers map[string]Secret
	// HeadersMissing names the sensitive variable without a value that the
	// headers come from (LoadOptions.DeferSecrets); Headers is nil then.
	HeadersMissing string
	// Token is the access token of an ntfy server (sent as a bearer
	// token); zero when not set.
	Token Secret
	// On lists the events sent, in the order of NotifyEvents.
	On        []NotifyEvent
	DeclRange hcl.Range
}

// Sends reports whether the notifier is told about event e.
func (n *Notifier) Sends(e NotifyEvent) bool { return slices.Contains(n.On, e) }

// MissingSecret returns the error of a notifier whose url, token or headers
// come from a sensitive variable without a value (LoadOptions.DeferSecrets),
// naming the variable; nil when every secret is known.
func (n *Notifier) MissingSecret() error {
	of := " of notify." + n.Name
	switch {
	case n.URL.Missing() != "":
		return n.URL.MissingError("the url" + of)
	case n.Token.Missing() != "":
		return n.Token.MissingError("the token" + of)
	case n.HeadersMissing != "":
		return Secret{missing: n.HeadersMissing}.MissingError("the headers" + of)
	}
	return nil
}

var notifySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "on"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: string(Healthchecks)}, {Type: string(Webhook)}, {Type: string(Ntfy)},
	},
}

// notifyKindSchemas are the attributes of each kind's block.
var notifyKindSchemas = map[NotifyKind]*hcl.BodySchema{
	Healthchecks: {Attributes: []hcl.AttributeSchema{{Name: "url", Required: true}}},
	Webhook:      {Attributes: []hcl.AttributeSchema{{Name: "url", Required: true}, {Name: "headers"}}},
	Ntfy:         {Attributes: []hcl.AttributeSchema{{Name: "url", Required: true}, {Name: "token"}}},
}

// evalNotifiers decodes the notify blocks into Config.Notifiers, sorted by
// name.
func (l *loader) evalNotifiers() {
	for _, b := range l.notifiers {
		if n := l.decodeNotifier(b); n != nil {
			l.cfg.Notifiers = append(l.cfg.Notifiers, n)
		}
	}
	sort.Slice(l.cfg.Notifiers, func(i, j int) bool { return l.cfg.Notifiers[i].Name < l.cfg.Notifiers[j].Name })
}

// decodeNotifier decodes one notify block; nil when it does not hold
// exactly one kind of block.
func (l *loader) decodeNotifier(b *hcl.Block) *Notifier {
	content, diags := b.Body.Content(notifySchema)
	l.diags = append(l.diags, diags...)
	name := b.Labels[0]
	if len(content.Blocks) != 1 {
		l.errorf(&b.DefRange, "Invalid notify block",
			"notify.%s must hold exactly one healthchecks { url = … }, webhook { url = … } or ntfy { url = … } block; it has %d.", name, len(content.Blocks))
		return nil
	}
	kb := content.Blocks[0]
	n := &Notifier{Name: name, Kind: NotifyKind(kb.Type), DeclRange: b.DefRange}
	kc, diags := kb.Body.Content(notifyKindSchemas[n.Kind])
	l.diags = append(l.diags, diags...)
	bd := l.body(kc, l.full, scopeGlobal, "url", "headers", "token").require("url")
	n.URL = bd.secretStr("url")
	if a, ok := kc.Attributes["url"]; ok && n.URL.Reveal() != "" {
		n.Host = l.notifyHost(name, a, n.URL.Reveal())
	}
	if h := bd.strMap("headers"); h != nil {
		n.Headers = l.notifyHeaders(name, kc.Attributes["headers"], h)
	} else {
		n.HeadersMissing = bd.missingSecret("headers")
	}
	n.Token = bd.secretStr("token")
	n.On = l.notifyEvents(name, n.Kind, content.Attributes["on"], l.body(content, l.full, scopeGlobal))
	return n
}

// notifyHost checks that u is an http or https URL with a host and returns
// the host, or "" when the URL comes from a sensitive value. Messages name
// the notifier, never the URL: its path and query are credentials.
func (l *loader) notifyHost(name string, a *hcl.Attribute, u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		l.errorf(a.Expr.Range().Ptr(), "Invalid notification URL",
			"The url of notify.%s must be an http:// or https:// URL with a host name.", name)
		return ""
	}
	if exposesSensitive(a.Expr, l.full) {
		return ""
	}
	return p.Hostname()
}

// notifyHeaders checks a webhook's header names and values; the values
// are never shown.
func (l *loader) notifyHeaders(name string, a *hcl.Attribute, h map[string]string) map[string]Secret {
	out := make(map[string]Secret, len(h))
	for _, k := range slices.Sorted(maps.Keys(h)) {
		switch {
		case !validHeaderName(k):
			l.errorf(a.Expr.Range().Ptr(), "Invalid header name",
				"%q in the headers of notify.%s is not an HTTP header name (letters, digits and !#$%%&'*+-.^_`|~).", k, name)
		case strings.ContainsAny(h[k], "\r\n\x00"):
			l.errorf(a.Expr.Range().Ptr(), "Invalid header value",
				"The value of header %q of notify.%s holds a line break or a NUL character.", k, name)
		default:
			out[k] = NewSecret(h[k])
		}
	}
	return out
}

// validHeaderName reports whether s is an HTTP field name (RFC 9110 token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)
		if !ok {
			return false
		}
	}
	return true
}

// notifyEvents reads on: a non-empty list of event names. Without it, the
// kind's defaults apply.
func (l *loader) notifyEvents(name string, kind NotifyKind, a *hcl.Attribute, bd *body) []NotifyEvent {
	if a == nil {
		return kind.DefaultEvents()
	}
	list := bd.strList("on")
	if list == nil {
		return kind.DefaultEvents()
	}
	if len(list) == 0 {
		l.errorf(a.Expr.Range().Ptr(), "No events",
			"on is empty, so notify.%s would never be sent; list events (\"start\", \"success\", \"failure\"), or leave on out for the defaults of %s.", name, kind)
		return nil
	}
	var out []NotifyEvent
	for _, e := range NotifyEvents {
		if slices.Contains(list, string(e)) {
			out = append(out, e)
		}
	}
	elems, diags := hcl.ExprList(a.Expr)
	for i, s := range list {
		if slices.Contains(NotifyEvents, NotifyEvent(s)) {
			continue
		}
		rng := a.Expr.Range()
		if !diags.HasErrors() && len(elems) == len(list) {
			rng = elems[i].Range()
		}
		l.errorf(&rng, "Unknown event",
			"%q in the on list of notify.%s is not an event; use \"start\", \"success\" or \"failure\".", s, name)
	}
	return out
}
