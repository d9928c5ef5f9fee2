package main

import "testing"

// The README's first command, on the in-memory broker.
func TestQuickstart(t *testing.T) {
	if err := run("mem://quickstart-test", "orders", 9); err != nil {
		t.Fatal(err)
	}
}
