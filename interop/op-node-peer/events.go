package main

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"sync"
	"time"
)

// emitter writes one JSON object per line to stdout; safe for concurrent use.
type emitter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func newEmitter() *emitter {
	return &emitter{enc: json.NewEncoder(os.Stdout)}
}

// emit writes {"event": kind, "ts_ms": now, ...fields}.
func (e *emitter) emit(kind string, fields map[string]any) {
	out := make(map[string]any, len(fields)+2)
	for k, v := range fields {
		out[k] = v
	}
	out["event"] = kind
	out["ts_ms"] = time.Now().UnixMilli()
	e.mu.Lock()
	defer e.mu.Unlock()
	_ = e.enc.Encode(out)
}

// hexID renders a gossipsub message id (raw 20 bytes in a Go string) as lowercase hex.
func hexID(id string) string {
	return hex.EncodeToString([]byte(id))
}
