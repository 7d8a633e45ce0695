package bus

import "sync"

// fair hands a stage's delivered messages to its workers newsroom by
// newsroom. A free worker takes the oldest message of the newsroom with
// the fewest messages in hand, and among equals of the one served
// longest ago. A newsroom's burst of heavy articles then holds another
// newsroom's article back by the handling of one message at most, not by
// the whole burst: in a plain queue the other article waits behind every
// message delivered before it.
//
// It shares out what the server has delivered: the window (fairWindow)
// that a stage holds at once. What a newsroom queued beyond it is reached
// in stream order; ingest's per-newsroom rate limit bounds how fast such
// a backlog can grow.
type fair struct {
	mu       sync.Mutex
	arrived  sync.Cond // a message was queued, or the queue closed
	freed    sync.Cond // a place in the window was freed
	limit    int       // messages queued and not yet taken
	queued   int
	tick     uint64
	closed   bool
	newsroom map[string]*newsroomQueue
}

// newsroomQueue is one newsroom's share of the window.
type newsroomQueue struct {
	waiting []*delivery
	busy    int    // taken and not done
	served  uint64 // the tick it was last given a worker
}

func newFair(limit int) *fair {
	f := &fair{limit: max(limit, 1), newsroom: map[string]*newsroomQueue{}}
	f.arrived.L, f.freed.L = &f.mu, &f.mu
	return f
}

// put queues d. A message just received waits while the window is full,
// which holds back the pull from the server; a follow-on (the next
// message of an ordered article, queued by the worker that finished the
// one before) never waits, or the workers could all wait on each other.
func (f *fair) put(d *delivery, followOn bool) {
	key := newsroomOf(d)
	f.mu.Lock()
	defer f.mu.Unlock()
	for !followOn && !f.closed && f.queued >= f.limit {
		f.freed.Wait()
	}
	q := f.newsroom[key]
	if q == nil {
		q = &newsroomQueue{}
		f.newsroom[key] = q
	}
	q.waiting = append(q.waiting, d)
	f.queued++
	f.arrived.Signal()
}

// take returns the next message for a free worker, waiting for one to
// be queued; nil once the queue is closed and empty.
func (f *fair) take() *delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		var next *newsroomQueue
		for _, q := range f.newsroom {
			if len(q.waiting) == 0 {
				continue
			}
			if next == nil || q.busy < next.busy || q.busy == next.busy && q.served < next.served {
				next = q
			}
		}
		if next != nil {
			d := next.waiting[0]
			next.waiting[0] = nil
			next.waiting = next.waiting[1:]
			next.busy++
			f.tick++
			next.served = f.tick
			f.queued--
			f.freed.Signal()
			return d
		}
		if f.closed {
			return nil
		}
		f.arrived.Wait()
	}
}

// done tells that a worker finished the message d it took.
func (f *fair) done(d *delivery) {
	key := newsroomOf(d)
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.newsroom[key]
	q.busy--
	if q.busy == 0 && len(q.waiting) == 0 {
		delete(f.newsroom, key)
	}
}

// close lets the workers end once what is queued is taken.
func (f *fair) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	f.arrived.Broadcast()
	f.freed.Broadcast()
}

// newsroomOf is the newsroom a message is for; messages that carry none
// (sent before the header was, or not about an article) share one queue.
func newsroomOf(d *delivery) string { return d.Headers().Get(HeaderNewsroom) }
