// Package clock is the lab's clock: real time plus an offset that tests can advance, so schedules,
// replication lag and RPO breaches can be produced without waiting. Everything in the lab that
// depends on time (ONTAP schedules and job latencies, SnapMirror lag, transfer durations, grace
// periods) reads this clock instead of the time package.
package clock

import (
	"container/heap"
	"sync"
	"time"
)

// Clock is safe for concurrent use. The zero value is not usable; call New.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
	timers timerHeap
	seq    uint64
	wake   chan struct{}
}

// Timer is a pending call scheduled on a Clock.
type Timer struct {
	c        *Clock
	deadline time.Time
	f        func()
	seq      uint64
	index    int // position in the heap; -1 when not scheduled
}

// New returns a clock that starts at real time and runs at real speed.
func New() *Clock {
	c := &Clock{wake: make(chan struct{}, 1)}
	go c.run()
	return c
}

// Now returns the lab time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Since returns the lab time elapsed since t.
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Offset reports how far the lab clock has been advanced beyond real time.
func (c *Clock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// Advance moves the lab clock forward by d (d <= 0 is ignored) and fires every timer that is due.
// Timers fire in deadline order, each on its own goroutine.
func (c *Clock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
	c.poke()
}

// AfterFunc calls f on its own goroutine once the lab time has reached Now()+d.
func (c *Clock) AfterFunc(d time.Duration, f func()) *Timer {
	c.mu.Lock()
	c.seq++
	t := &Timer{c: c, deadline: time.Now().Add(c.offset).Add(d), f: f, seq: c.seq}
	heap.Push(&c.timers, t)
	c.mu.Unlock()
	c.poke()
	return t
}

// Stop cancels the timer. It reports whether the call prevented the timer from firing.
func (t *Timer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&c.timers, t.index)
	return true
}

func (c *Clock) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Clock) run() {
	for {
		c.mu.Lock()
		now := time.Now().Add(c.offset)
		var due []*Timer
		for len(c.timers) > 0 && !c.timers[0].deadline.After(now) {
			due = append(due, heap.Pop(&c.timers).(*Timer))
		}
		wait := time.Hour
		if len(c.timers) > 0 {
			wait = c.timers[0].deadline.Sub(now)
		}
		c.mu.Unlock()
		for _, t := range due {
			go t.f()
		}
		tm := time.NewTimer(wait)
		select {
		case <-tm.C:
		case <-c.wake:
			tm.Stop()
		}
	}
}

type timerHeap []*Timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].deadline.Equal(h[j].deadline) {
		return h[i].seq < h[j].seq
	}
	return h[i].deadline.Before(h[j].deadline)
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*Timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}
