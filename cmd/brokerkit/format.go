package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/brokerkit/brokerkit/transport"
)

// jsonMessage is a message as `sub --format json` prints it and as
// `pub --format json` reads it, one per line. A payload that is not
// printable UTF-8 text travels in payload_base64 instead of payload.
type jsonMessage struct {
	ID            string            `json:"id,omitempty"`
	Topic         string            `json:"topic,omitempty"`
	Key           string            `json:"key,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	Attempt       int               `json:"attempt,omitempty"`
	PublishedAt   *time.Time        `json:"published_at,omitempty"`
	Payload       *string           `json:"payload,omitempty"`
	PayloadBase64 *string           `json:"payload_base64,omitempty"`
}

// printable reports whether b can be shown as text as it is: valid UTF-8
// without control characters other than tab and newline.
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}

func toJSON(m *transport.Message) jsonMessage {
	j := jsonMessage{ID: m.ID, Topic: m.Topic, Key: m.Key, Metadata: m.Metadata, Attempt: m.Attempt}
	if !m.PublishedAt.IsZero() {
		t := m.PublishedAt.UTC()
		j.PublishedAt = &t
	}
	if printable(m.Payload) {
		s := string(m.Payload)
		j.Payload = &s
	} else {
		s := base64.StdEncoding.EncodeToString(m.Payload)
		j.PayloadBase64 = &s
	}
	return j
}

func fromJSON(line []byte) (*transport.Message, error) {
	var j jsonMessage
	dec := json.NewDecoder(strings.NewReader(string(line)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, transport.Invalidf("JSON message: %v", err)
	}
	m := &transport.Message{ID: j.ID, Key: j.Key, Metadata: j.Metadata}
	switch {
	case j.Payload != nil && j.PayloadBase64 != nil:
		return nil, transport.Invalidf("JSON message: both payload and payload_base64")
	case j.Payload != nil:
		m.Payload = []byte(*j.Payload)
	case j.PayloadBase64 != nil:
		b, err := base64.StdEncoding.DecodeString(*j.PayloadBase64)
		if err != nil {
			return nil, transport.Invalidf("JSON message: payload_base64: %v", err)
		}
		m.Payload = b
	}
	return m, nil
}

// writeText prints a message for people: a header line with its identity
// and metadata, then the payload, quoted when it is not printable text.
func writeText(w io.Writer, m *transport.Message) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s id=%s", m.Topic, m.ID)
	if m.Key != "" {
		fmt.Fprintf(&b, " key=%s", strconv.Quote(m.Key))
	}
	if m.Attempt > 0 {
		fmt.Fprintf(&b, " attempt=%d", m.Attempt)
	}
	if !m.PublishedAt.IsZero() {
		fmt.Fprintf(&b, " published-at=%s", m.PublishedAt.UTC().Format(time.RFC3339Nano))
	}
	for _, k := range slices.Sorted(maps.Keys(m.Metadata)) {
		fmt.Fprintf(&b, " %s=%s", quoteIfNeeded(k), quoteIfNeeded(m.Metadata[k]))
	}
	b.WriteByte('\n')
	if printable(m.Payload) {
		b.Write(m.Payload)
	} else {
		fmt.Fprintf(&b, "(binary, %d bytes) base64:%s", len(m.Payload), base64.StdEncoding.EncodeToString(m.Payload))
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " =\"\t\n") || !printable([]byte(s)) {
		return strconv.Quote(s)
	}
	return s
}

// parseHeaders turns repeated name=value flags into metadata.
func parseHeaders(hs []string) (transport.Metadata, error) {
	if len(hs) == 0 {
		return nil, nil
	}
	md := transport.Metadata{}
	for _, h := range hs {
		name, value, ok := strings.Cut(h, "=")
		if !ok || name == "" {
			return nil, usageErr{fmt.Errorf("-H %q: want name=value", h)}
		}
		md[name] = value
	}
	return md, nil
}
