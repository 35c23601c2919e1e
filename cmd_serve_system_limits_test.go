package main

import (
	"testing"

	"github.com/keychain-auth/keychain-auth/broker"
)

func TestSystemLimitsPerUID(t *testing.T) {
	l := systemLimits(broker.DefaultLimits())
	if l.MaxConnsPerUID != broker.DefaultLimits().MaxConns/4 || l.MaxConnsPerUID == 0 {
		t.Fatalf("system mode per-uid cap %d, want a quarter of %d", l.MaxConnsPerUID, l.MaxConns)
	}
	set := broker.DefaultLimits()
	set.MaxConnsPerUID = 7
	if got := systemLimits(set).MaxConnsPerUID; got != 7 {
		t.Fatalf("an explicit per-uid cap was replaced: %d", got)
	}
	if got := systemLimits(broker.Limits{MaxConns: 2}).MaxConnsPerUID; got != 1 {
		t.Fatalf("tiny table: per-uid cap %d, want 1", got)
	}
}
