package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	kafka "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/transport"
)

// joinBackoff is the wait before joining again after a failed join.
const joinBackoff = time.Second

// startGroup joins the consumer group and returns once this member has its
// first assignment, with the offsets of every assigned partition resolved.
//
// It drives kafka-go's ConsumerGroup directly rather than a Reader with a
// GroupID: a Reader joins lazily on its first fetch (Subscribe could not know
// when it is live), and it gives no hook at a rebalance, when in-flight work
// must finish and be committed before the partitions move.
func (r *receiver) startGroup(ctx context.Context) error {
	cfg := r.cluster.cfg
	start := kafka.LastOffset
	if r.cfg.StartOldest {
		start = kafka.FirstOffset
	}
	gc := kafka.ConsumerGroupConfig{
		ID:                r.cfg.Group,
		Brokers:           cfg.brokers,
		Dialer:            r.cluster.dialer,
		Topics:            []string{r.topic},
		HeartbeatInterval: cfg.heartbeatInterval,
		SessionTimeout:    cfg.sessionTimeout,
		RebalanceTimeout:  cfg.rebalanceTimeout,
		JoinGroupBackoff:  joinBackoff,
		StartOffset:       start,
	}
	if cfg.logger != nil {
		log := r.cluster.log.With("group", r.cfg.Group, "topic", r.topic)
		gc.Logger = kafka.LoggerFunc(func(msg string, args ...any) { log.Debug("kafka-go: " + fmt.Sprintf(msg, args...)) })
		gc.ErrorLogger = kafka.LoggerFunc(func(msg string, args ...any) { log.Warn("kafka-go: " + fmt.Sprintf(msg, args...)) })
	}
	cg, err := kafka.NewConsumerGroup(gc)
	if err != nil {
		return transport.Invalidf("kafka: consumer group: %v", err)
	}
	r.group = cg

	var last error
	for {
		gen, err := cg.Next(ctx)
		if err == nil {
			if err = r.startGeneration(ctx, gen); err == nil {
				break
			}
			endGeneration(gen)
		}
		if ctx.Err() != nil {
			return classify.DeadlineError("subscribe", ctx, last)
		}
		if !classify.Retryable(err) {
			return classify.Wrap("subscribe", err)
		}
		last = err
	}
	r.workers.Add(1)
	go func() {
		defer r.workers.Done()
		r.followGroup()
	}()
	return nil
}

// followGroup takes each new generation after a rebalance until the receiver
// closes.
func (r *receiver) followGroup() {
	for {
		gen, err := r.group.Next(r.life)
		if err != nil {
			if r.life.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return
			}
			r.cluster.log.Warn("kafka: joining group failed; retrying", "group", r.cfg.Group, "err", err)
			continue
		}
		ctx, cancel := context.WithTimeout(r.life, r.cluster.cfg.rebalanceTimeout)
		err = r.startGeneration(ctx, gen)
		cancel()
		if err != nil {
			r.cluster.log.Warn("kafka: starting generation failed; rejoining", "group", r.cfg.Group, "err", err)
			endGeneration(gen)
		}
	}
}

// endGeneration ends a generation we cannot use, so that kafka-go joins
// again: a generation ends as soon as one function started in it returns.
func endGeneration(gen *kafka.Generation) { gen.Start(func(context.Context) {}) }

// startGeneration resolves the assigned partitions' offsets and starts a
// fetcher per partition and the committer.
func (r *receiver) startGeneration(ctx context.Context, gen *kafka.Generation) error {
	assigned := gen.Assignments[r.topic]
	var unresolved []int
	for _, a := range assigned {
		if a.Offset < 0 { // no committed offset: kafka.FirstOffset or LastOffset
			unresolved = append(unresolved, a.ID)
		}
	}
	var resolved map[int]int64
	if len(unresolved) > 0 {
		var err error
		resolved, err = r.cluster.offsets(ctx, r.topic, unresolved, r.cfg.StartOldest)
		if err != nil {
			return err
		}
		// Commit the starting point at once: from now on the group keeps
		// what is published, even if this member leaves before finishing a
		// message, instead of starting again from a later newest offset.
		if err := gen.CommitOffsets(map[string]map[int]int64{r.topic: resolved}); err != nil {
			return classify.Wrap("commit", err)
		}
	}
	claims := make([]*claim, 0, len(assigned))
	for _, a := range assigned {
		offset := a.Offset
		if offset < 0 {
			offset = resolved[a.ID]
		}
		claims = append(claims, newClaim(r.topic, a.ID, offset))
	}
	r.cluster.log.Debug("kafka: partitions assigned", "group", r.cfg.Group, "topic", r.topic,
		"generation", gen.ID, "member", gen.MemberID, "assigned", assigned)
	for _, c := range claims {
		gen.Start(func(ctx context.Context) { r.fetch(ctx, c) })
	}
	gen.Start(func(ctx context.Context) { r.commitLoop(ctx, gen, claims) })
	return nil
}

// commitLoop commits the generation's finished offsets every commit interval.
// When the generation ends (rebalance, or the subscription closing), it
// gives the partitions up: it stops handing out their messages, waits for the
// handlers still running on them, commits what finished and only then
// returns, which lets kafka-go rejoin. So a partition's next owner starts
// after everything this member finished, and never while it still works on
// one of its messages.
func (r *receiver) commitLoop(ctx context.Context, gen *kafka.Generation, claims []*claim) {
	t := time.NewTicker(r.cluster.cfg.commitInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			r.commit(gen, claims)
		case <-ctx.Done():
			r.revoke(claims)
			r.commit(gen, claims)
			r.mu.Lock()
			for _, c := range claims {
				c.released = true
			}
			r.mu.Unlock()
			return
		}
	}
}

// revoke stops handing out the claims' messages and waits, at most the
// rebalance timeout, for the handlers running on them.
func (r *receiver) revoke(claims []*claim) {
	var busy []chan struct{}
	r.mu.Lock()
	for _, c := range claims {
		c.revoked = true
		if c.outstanding > 0 {
			c.idle = make(chan struct{})
			busy = append(busy, c.idle)
		}
	}
	r.mu.Unlock()
	if len(busy) == 0 {
		return
	}
	timeout := time.NewTimer(r.cluster.cfg.rebalanceTimeout)
	defer timeout.Stop()
	for _, idle := range busy {
		select {
		case <-idle:
		case <-timeout.C:
			r.cluster.log.Warn("kafka: handlers still running when giving up partitions", "group", r.cfg.Group)
			return
		}
	}
}

// commit commits, for each claim, the offset before which every message is
// finished, when it moved.
func (r *receiver) commit(gen *kafka.Generation, claims []*claim) {
	offsets := map[int]int64{}
	r.mu.Lock()
	for _, c := range claims {
		if p := c.commitPoint(); !c.released && p > c.committed {
			offsets[c.partition] = p
		}
	}
	r.mu.Unlock()
	if len(offsets) == 0 {
		return
	}
	if err := gen.CommitOffsets(map[string]map[int]int64{r.topic: offsets}); err != nil {
		r.cluster.log.Warn("kafka: commit failed; the messages will be delivered again", "group", r.cfg.Group,
			"topic", r.topic, "err", err)
		return
	}
	r.cluster.log.Debug("kafka: committed", "group", r.cfg.Group, "topic", r.topic, "generation", gen.ID,
		"member", gen.MemberID, "offsets", offsets)
	r.mu.Lock()
	for _, c := range claims {
		if p, ok := offsets[c.partition]; ok {
			c.committed = p
		}
	}
	r.mu.Unlock()
}
