package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/ethereum/go-ethereum/log"
)

// captureHandler keeps the message of the last warning or error op-node's validator logged:
// op-node reports why it rejected or ignored a block only in its log, so the peer reads the
// reason from there (e.g. "payload is too old").
type captureHandler struct {
	mu   *sync.Mutex
	last *string
}

func (h captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.mu.Lock()
		*h.last = r.Message
		h.mu.Unlock()
	}
	return nil
}

func (h captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h captureHandler) WithGroup(string) slog.Handler      { return h }

// reasonLog is a logger for op-node's validators whose last warning can be read back.
type reasonLog struct {
	mu   sync.Mutex
	last string
	log  log.Logger
}

func newReasonLog() *reasonLog {
	r := &reasonLog{}
	r.log = log.NewLogger(captureHandler{mu: &r.mu, last: &r.last})
	return r
}

// take returns and clears the last captured message.
func (r *reasonLog) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.last
	r.last = ""
	return s
}
