package dag

import (
	"container/heap"
	"slices"
)

// indexHeap is a min-heap of step indexes ordered by less (plain < when
// nil).
type indexHeap struct {
	items []int
	less  func(a, b int) bool
}

func (h *indexHeap) Len() int { return len(h.items) }
func (h *indexHeap) Less(a, b int) bool {
	if h.less == nil {
		return h.items[a] < h.items[b]
	}
	return h.less(h.items[a], h.items[b])
}
func (h *indexHeap) Swap(a, b int) { h.items[a], h.items[b] = h.items[b], h.items[a] }
func (h *indexHeap) Push(x any)    { h.items = append(h.items, x.(int)) }
func (h *indexHeap) Pop() any {
	i := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return i
}

func (h *indexHeap) len() int   { return len(h.items) }
func (h *indexHeap) push(i int) { heap.Push(h, i) }
func (h *indexHeap) pop() int   { return heap.Pop(h).(int) }

// removeIf removes and returns, in heap order, the items for which match is
// true.
func (h *indexHeap) removeIf(match func(int) bool) []int {
	var take []int
	h.items = slices.DeleteFunc(h.items, func(i int) bool {
		if match(i) {
			take = append(take, i)
			return true
		}
		return false
	})
	if len(take) == 0 {
		return nil
	}
	heap.Init(h)
	th := &indexHeap{items: take, less: h.less}
	heap.Init(th)
	out := make([]int, 0, len(take))
	for th.len() > 0 {
		out = append(out, th.pop())
	}
	return out
}
