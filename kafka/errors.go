package kafka

import (
	"context"
	"errors"

	kafka "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/transport"
)

// wrap classifies a kafka-go or network error for the portable API. The
// native error stays reachable with errors.As (kafka.Error, *net.OpError...).
func wrap(op string, err error) error {
	if err == nil || err == context.Canceled || err == context.DeadlineExceeded {
		return err
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return err
	}
	return transport.NewError(codeOf(err), op, err)
}

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

// retryable reports whether sending the same request again may succeed.
func retryable(err error) bool {
	if err == context.Canceled || err == context.DeadlineExceeded {
		return false
	}
	switch codeOf(err) {
	case transport.CodeUnavailable, transport.CodeUnknown:
		return true
	}
	return false
}

// tooLarge reports whether the broker refused a record for its size.
func tooLarge(err error) bool {
	return errors.Is(err, kafka.MessageSizeTooLarge) || errors.Is(err, kafka.RecordListTooLarge)
}
