package kafka

import (
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// maxTopicLength is Apache Kafka's limit on a topic name (249, so that the
// partition directory "<topic>-<partition>" fits a file name).
const maxTopicLength = 249

// checkTopic refuses, before anything is sent, a topic name Apache Kafka
// would refuse: empty, longer than 249 bytes, "." or "..", or with a
// character outside [a-zA-Z0-9._-].
func checkTopic(topic string) error {
	if err := driver.CheckTopic(topic); err != nil {
		return err
	}
	if len(topic) > maxTopicLength {
		return transport.Invalidf("kafka: topic of %d bytes: Kafka allows at most %d", len(topic), maxTopicLength)
	}
	if topic == "." || topic == ".." {
		return transport.Invalidf("kafka: topic %q is not a legal Kafka topic name", topic)
	}
	for i := 0; i < len(topic); i++ {
		switch c := topic[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return transport.Invalidf("kafka: topic %q has the character %q at byte %d: Kafka allows only ASCII letters, digits, '.', '_' and '-'",
				topic, c, i)
		}
	}
	return nil
}
