package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/brokerkit/brokerkit/transport"
)

func TestLogging(t *testing.T) {
	tests := []struct {
		name      string
		handler   transport.Handler
		wantLevel string
		wantMsg   string
	}{
		{"success at debug", func(context.Context, *transport.Message) error { return nil }, "DEBUG", "message handled"},
		{"retryable failure at warn", func(context.Context, *transport.Message) error { return errFlaky }, "WARN", "message handling failed"},
		{"permanent failure at error", func(context.Context, *transport.Message) error { return transport.Permanent(errFlaky) }, "ERROR", "message handling failed"},
		{"panic at error", Recoverer(func(context.Context, *transport.Message) error { panic("boom") }), "ERROR", "message handling failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			m := &transport.Message{ID: "id-1", Key: "secret-key", Topic: "orders", Attempt: 2,
				Payload: []byte("secret-payload"), Metadata: transport.Metadata{"authorization": "secret-token"}}
			h := transport.Chain(tt.handler, CorrelationID, Logging(l))
			_ = h(context.Background(), m)
			var rec map[string]any
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("want one JSON record, got %q: %v", buf.String(), err)
			}
			if rec["level"] != tt.wantLevel || rec["msg"] != tt.wantMsg {
				t.Errorf("record %v, want level %s msg %q", rec, tt.wantLevel, tt.wantMsg)
			}
			if rec["topic"] != "orders" || rec["id"] != "id-1" || rec["attempt"] != 2.0 || rec["correlation_id"] != "id-1" {
				t.Errorf("record %v lacks topic, id, attempt or correlation_id", rec)
			}
			if _, ok := rec["duration"]; !ok {
				t.Errorf("record %v has no duration", rec)
			}
			if strings.Contains(buf.String(), "secret") {
				t.Errorf("record leaks payload, key or metadata: %s", buf.String())
			}
		})
	}
}

func TestLoggingSkipsDisabledLevels(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := Logging(l)(func(context.Context, *transport.Message) error { return nil })
	if err := h(context.Background(), &transport.Message{}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("success logged at Info level: %s", buf.String())
	}
	h = Logging(l)(func(context.Context, *transport.Message) error { return errors.New("x") })
	_ = h(context.Background(), &transport.Message{})
	if !strings.Contains(buf.String(), "level=WARN") {
		t.Errorf("failure not logged: %q", buf.String())
	}
}
