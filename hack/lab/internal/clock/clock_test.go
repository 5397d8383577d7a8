package clock

import (
	"testing"
	"time"
)

func TestAdvanceFiresDueTimersWithoutWaiting(t *testing.T) {
	c := New()
	start := c.Now()
	fired := make(chan time.Time, 1)
	c.AfterFunc(time.Hour, func() { fired <- c.Now() })
	c.Advance(time.Hour)
	select {
	case at := <-fired:
		if at.Sub(start) < time.Hour {
			t.Fatalf("timer fired at +%v, before its deadline", at.Sub(start))
		}
	case <-time.After(2 * time.Second):
		t.Fatal("timer due after Advance did not fire")
	}
}

func TestStoppedTimerDoesNotFire(t *testing.T) {
	c := New()
	fired := make(chan struct{}, 1)
	tm := c.AfterFunc(time.Minute, func() { fired <- struct{}{} })
	if !tm.Stop() {
		t.Fatal("Stop on a pending timer reported false")
	}
	c.Advance(2 * time.Minute)
	select {
	case <-fired:
		t.Fatal("stopped timer fired")
	case <-time.After(100 * time.Millisecond):
	}
	if tm.Stop() {
		t.Fatal("second Stop reported true")
	}
}

func TestTimersRunInRealTimeToo(t *testing.T) {
	c := New()
	fired := make(chan struct{}, 1)
	c.AfterFunc(20*time.Millisecond, func() { fired <- struct{}{} })
	select {
	case <-fired:
	case <-time.After(2 * time.Second):
		t.Fatal("timer did not fire in real time")
	}
}
