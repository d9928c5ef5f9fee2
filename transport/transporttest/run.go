package transporttest

import (
	"flag"
	"os"
	"strconv"
	"testing"
	"time"
)

var stress = flag.Int("transporttest.stress", 0, "run the conformance suite this many times (also BROKERKIT_STRESS)")

// rounds is how many times Run repeats the suite.
func rounds() int {
	if *stress > 0 {
		return *stress
	}
	if n, err := strconv.Atoi(os.Getenv("BROKERKIT_STRESS")); err == nil && n > 0 {
		return n
	}
	return 1
}

// Run checks the backend behind h against every line of the contract its
// capabilities claim. Lines the backend does not claim are reported as
// skipped with the capability named, so a missing claim is visible.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.NewPublisher == nil || h.NewSubscriber == nil {
		t.Fatal("transporttest: Harness needs NewPublisher and NewSubscriber")
	}
	if h.Timeout <= 0 {
		h.Timeout = 20 * time.Second
	}
	s := &suite{h: h}
	n := rounds()
	for i := range n {
		name := "round" + strconv.Itoa(i+1)
		if n == 1 {
			name = "contract"
		}
		t.Run(name, s.run)
	}
}

// check is one line of the contract. needs says whether the harness claims
// what the line tests, and names the claim for the skip message.
type check struct {
	name  string
	needs func(Harness) (ok bool, claim string)
	run   func(*suite, *testing.T)
}

func always(Harness) (bool, string) { return true, "" }

func needs(claim string, have func(Harness) bool) func(Harness) (bool, string) {
	return func(h Harness) (bool, string) { return have(h), claim }
}

var (
	groups       = needs("Groups", func(h Harness) bool { return h.Caps.Groups })
	ephemeral    = needs("Ephemeral", func(h Harness) bool { return h.Caps.Ephemeral })
	durable      = needs("Groups and Durable", func(h Harness) bool { return h.Caps.Groups && h.Caps.Durable })
	redelivery   = needs("Redelivery", func(h Harness) bool { return h.Caps.Redelivery })
	ordering     = needs("Ordering", func(h Harness) bool { return h.Caps.Ordering })
	maxPayload   = needs("MaxPayload", func(h Harness) bool { return h.Caps.MaxPayload > 0 })
	unreachable  = needs("Harness.Unreachable", func(h Harness) bool { return h.Unreachable != nil })
	missingTopic = needs("Harness.WithoutTopicCreation", func(h Harness) bool { return h.WithoutTopicCreation != nil })
)

// checks is the suite, one entry per line of the contract.
var checks = []check{
	{"RoundTrip", always, (*suite).roundTrip},
	{"LargePayload", always, (*suite).largePayload},
	{"ConcurrentPublishers", always, (*suite).concurrentPublishers},
	{"TopicIsolation", always, (*suite).topicIsolation},
	{"FanOutAcrossGroups", groups, (*suite).fanOut},
	{"CompetingConsumers", groups, (*suite).competingConsumers},
	{"Ephemeral", ephemeral, (*suite).ephemeral},
	{"RedeliveryAfterError", redelivery, (*suite).redeliveryAfterError},
	{"PanickingHandler", redelivery, (*suite).panickingHandler},
	{"PerKeyOrder", ordering, (*suite).perKeyOrder},
	{"GroupKeepsMessagesWhileAway", durable, (*suite).groupKeepsMessages},
	{"CloseDrainsInFlight", always, (*suite).closeDrains},
	{"LifetimeEndDrainsInFlight", always, (*suite).lifetimeDrains},
	{"SubscribeContextBoundsSetupOnly", always, (*suite).subscribeContextBoundsSetup},
	{"EndedContext", always, (*suite).endedContext},
	{"StartOldest", always, (*suite).startOldest},
	{"NothingLostAcrossClose", durable, (*suite).nothingLostAcrossClose},
	{"PublishAfterClose", always, (*suite).publishAfterClose},
	{"SubscribeAfterClose", always, (*suite).subscribeAfterClose},
	{"BadInput", always, (*suite).badInput},
	{"OversizedPayload", maxPayload, (*suite).oversized},
	{"UnreachableBroker", unreachable, (*suite).unreachable},
	{"MissingTopic", missingTopic, (*suite).missingTopic},
}

type suite struct{ h Harness }

func (s *suite) run(t *testing.T) {
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			ok, capability := c.needs(s.h)
			if !ok {
				t.Skipf("backend does not claim %s", capability)
			}
			c.run(s, t)
		})
	}
}

func (s *suite) topic(t testing.TB) string {
	if s.h.NewTopic != nil {
		return s.h.NewTopic(t)
	}
	return Name(t, "bk-topic")
}

func (s *suite) group(t testing.TB) string {
	if s.h.NewGroup != nil {
		return s.h.NewGroup(t)
	}
	return Name(t, "bk-group")
}
