package amqp_test

import (
	"testing"

	"github.com/brokerkit/brokerkit/internal/compilecheck"
)

// TestOptionRoles: every option compiles with the constructors of its role
// (testdata/roles/ok), and an option of the other role is a compile error
// (each marked line of testdata/roles/wrong).
func TestOptionRoles(t *testing.T) {
	compilecheck.Run(t, "testdata/roles/ok", "testdata/roles/wrong")
}
