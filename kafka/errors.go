package kafka

import (
	"errors"

	kafka "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// classify is the backend's error plumbing (driver.Classifier) over codeOf.
var classify = driver.Classifier(codeOf)

func codeOf(err error) transport.Code {
	var ke kafka.Error
	if errors.As(err, &ke) {
		switch ke {
		case kafka.UnknownTopicOrPartition:
			return transport.CodeNotFound
		case kafka.MessageSizeTooLarge, kafka.RecordListTooLarge, kafka.InvalidTopic,
			kafka.InvalidRequiredAcks, kafka.InvalidPartitionNumber, kafka.InvalidReplicationFactor,
			kafka.InvalidRecord, kafka.UnsupportedCompressionType, kafka.InvalidTimestamp:
			return transport.CodeInvalid
		case kafka.TopicAuthorizationFailed, kafka.GroupAuthorizationFailed,
			kafka.ClusterAuthorizationFailed, kafka.SASLAuthenticationFailed,
			kafka.UnsupportedSASLMechanism, kafka.IllegalSASLState,
			kafka.TransactionalIDAuthorizationFailed, kafka.DelegationTokenAuthorizationFailed:
			return transport.CodeUnauthorized
		}
		if ke.Temporary() {
			return transport.CodeUnavailable
		}
		return transport.CodeUnknown
	}
	return transport.CodeOf(err) // network errors, sentinels, context errors
}

// tooLarge reports whether the broker refused a record for its size.
func tooLarge(err error) bool {
	return errors.Is(err, kafka.MessageSizeTooLarge) || errors.Is(err, kafka.RecordListTooLarge)
}
