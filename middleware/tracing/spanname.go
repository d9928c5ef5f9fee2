package tracing

import "sync"

// spanNames builds "<operation> <topic>" span names once per topic, since
// concatenating them for every message would allocate. At most
// maxCachedSets topics are kept; others are built each time.
type spanNames struct {
	operation string
	mu        sync.RWMutex
	byTopic   map[string]string
}

func newSpanNames(operation string) *spanNames {
	return &spanNames{operation: operation, byTopic: map[string]string{}}
}

func (s *spanNames) of(topic string) string {
	s.mu.RLock()
	name, ok := s.byTopic[topic]
	s.mu.RUnlock()
	if ok {
		return name
	}
	name = s.operation + " " + topic
	s.mu.Lock()
	if len(s.byTopic) < maxCachedSets {
		s.byTopic[topic] = name
	}
	s.mu.Unlock()
	return name
}
