package transport

// Well-known metadata names. Backends map each onto the broker's own
// property where it has one, both ways, so that a message keeps its meaning
// for clients in other languages:
//
//	name              RabbitMQ (AMQP 0.9.1)   Kafka
//	content-type      content_type property   header "content-type"
//	content-encoding  content_encoding        header "content-encoding"
//	correlation-id    correlation_id          header "correlation-id"
//	reply-to          reply_to                header "reply-to"
//	type              type                    header "type"
//
// A value the property cannot hold (empty, or longer than AMQP's 255
// bytes) travels as a header of the same name instead, so that it still
// comes back unchanged.
const (
	MetaContentType     = "content-type"
	MetaContentEncoding = "content-encoding"
	MetaCorrelationID   = "correlation-id"
	MetaReplyTo         = "reply-to"
	MetaType            = "type"
)
