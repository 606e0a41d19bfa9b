package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/planb-backup/planb/providers/store"
)

// NodesRecord is the record (records/<kind>/<name>/nodes.json) that says
// which planb node wrote each archive of a resource into a store, so that
// plans, which open no archive, can tell one node's archives from
// another's. An apply adds an archive to it under the resource's lock
// before the archive's upload begins, so a partial of a run that writes
// it is named there too.
const NodesRecord = "nodes.json"

// nodesFormat is the version of the NodesRecord this planb writes.
const nodesFormat = 1

// nodesDoc is the content of a NodesRecord.
type nodesDoc struct {
	FormatVersion int         `json:"format_version"`
	Archives      []nodeEntry `json:"archives"`
}

// nodeEntry names the node that wrote one archive, and when.
type nodeEntry struct {
	Archive string    `json:"archive"`
	Node    string    `json:"node"`
	Time    time.Time `json:"time"`
}

// ReadNodes returns what the nodes record of a resource folder says: by
// archive name (complete, without ".partial"), the node that wrote it;
// nothing when there is no record. A record that does not parse is an
// error: without it the archives of other nodes would look like this
// node's.
func ReadNodes(ctx context.Context, st store.Store, ref store.Ref) (map[string]string, error) {
	doc, err := readNodes(ctx, st, ref)
	if err != nil || doc == nil {
		return nil, err
	}
	out := make(map[string]string, len(doc.Archives))
	for _, e := range doc.Archives {
		out[e.Archive] = e.Node
	}
	return out, nil
}

func readNodes(ctx context.Context, st store.Store, ref store.Ref) (*nodesDoc, error) {
	var doc nodesDoc
	found, err := store.ReadJSON(ctx, st, ref, NodesRecord, &doc)
	if !found {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: it says which node wrote each archive; remove it by hand to treat them all as this node's", err)
	}
	for _, e := range doc.Archives {
		if e.Archive == "" || e.Node == "" {
			return nil, fmt.Errorf("store %q: record %s names an archive or a node that is empty: remove it by hand to treat every archive as this node's",
				st.Name(), ref.Key(NodesRecord))
		}
	}
	return &doc, nil
}

// noteNode records, under the resource's lock and before the archive's
// upload begins, that node writes archive name of ref into st, and reports
// whether it did. What the record says of archives the store no longer
// holds (pruned, cleaned or never written) is dropped on the way. Nothing
// is recorded without a node, or when the store holds the archive or a
// partial of it already: its upload will fail, and the record keeps
// naming the node that wrote what is there.
func noteNode(ctx context.Context, st store.Store, ref store.Ref, name, node string) (bool, error) {
	if node == "" {
		return false, nil
	}
	doc, err := readNodes(ctx, st, ref)
	if err != nil {
		return false, err
	}
	if doc == nil {
		doc = &nodesDoc{}
	}
	listed, err := st.ListResource(ctx, ref)
	if err != nil {
		return false, fmt.Errorf("record the node of %s: %w", ref.Key(name), err)
	}
	held := map[string]bool{}
	for _, a := range listed {
		held[strings.TrimSuffix(a.Name, store.PartialSuffix)] = true
	}
	if held[name] {
		return false, nil
	}
	doc.Archives = slices.DeleteFunc(doc.Archives, func(e nodeEntry) bool { return !held[e.Archive] })
	doc.Archives = append(doc.Archives, nodeEntry{Archive: name, Node: node, Time: time.Now().UTC().Truncate(time.Second)})
	if err := writeNodes(ctx, st, ref, doc); err != nil {
		return false, fmt.Errorf("record the node of %s: %w", ref.Key(name), err)
	}
	return true, nil
}

// forgetNodes removes archives (complete names or partials) from the
// nodes record of ref once deleted, logging a record that cannot be
// written: the next noteNode drops them too.
func forgetNodes(ctx context.Context, logger *slog.Logger, st store.Store, ref store.Ref, names []string) {
	if len(names) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	err := func() error {
		doc, err := readNodes(ctx, st, ref)
		if err != nil || doc == nil {
			return err
		}
		gone := map[string]bool{}
		for _, n := range names {
			gone[strings.TrimSuffix(n, store.PartialSuffix)] = true
		}
		n := len(doc.Archives)
		doc.Archives = slices.DeleteFunc(doc.Archives, func(e nodeEntry) bool { return gone[e.Archive] })
		if len(doc.Archives) == n {
			return nil
		}
		return writeNodes(ctx, st, ref, doc)
	}()
	if err != nil && logger != nil {
		logger.Warn("could not update the record of the nodes that wrote archives", "store", st.Name(),
			"record", ref.Key(NodesRecord), "err", err)
	}
}

func writeNodes(ctx context.Context, st store.Store, ref store.Ref, doc *nodesDoc) error {
	if len(doc.Archives) == 0 {
		return st.DeleteRecord(ctx, ref, NodesRecord)
	}
	doc.FormatVersion = nodesFormat
	slices.SortFunc(doc.Archives, func(a, b nodeEntry) int { return strings.Compare(a.Archive, b.Archive) })
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return st.WriteRecord(ctx, ref, NodesRecord, append(data, '\n'))
}

// foreignNodes returns, of names (archives or partials of ref in st), those
// the nodes record says another node than owners wrote, each with its
// node: a prune or clean refuses them under the lock.
func foreignNodes(ctx context.Context, st store.Store, ref store.Ref, names, owners []string) (map[string]string, error) {
	nodes, err := ReadNodes(ctx, st, ref)
	if err != nil || len(nodes) == 0 {
		return nil, err
	}
	var out map[string]string
	for _, n := range names {
		node, ok := nodes[strings.TrimSuffix(n, store.PartialSuffix)]
		if !ok || slices.Contains(owners, node) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[n] = node
	}
	return out, nil
}
