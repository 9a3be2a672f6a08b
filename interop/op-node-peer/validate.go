package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/urfave/cli/v2"

	"github.com/ethereum-optimism/optimism/op-node/p2p"
	"github.com/ethereum-optimism/optimism/op-node/rollup"
	"github.com/ethereum-optimism/optimism/op-service/clock"
	"github.com/ethereum-optimism/optimism/op-service/eth"
)

var blockVersions = []eth.BlockVersion{eth.BlockV1, eth.BlockV2, eth.BlockV3, eth.BlockV4}

// blockTopic is op-node's topic string for version index v (0..3).
func blockTopic(cfg *rollup.Config, v int) string {
	return fmt.Sprintf("/optimism/%s/%d/blocks", cfg.L2ChainID.String(), v)
}

// guarded runs an op-node validator the way op-node's guardGossipValidator does: a panic is
// a REJECT.
func guarded(fn pubsub.ValidatorEx, ctx context.Context, from peer.ID, msg *pubsub.Message) (res pubsub.ValidationResult, panicked bool) {
	defer func() {
		if recover() != nil {
			res, panicked = pubsub.ValidationReject, true
		}
	}()
	return fn(ctx, from, msg), false
}

func verdictName(r pubsub.ValidationResult) string {
	switch r {
	case pubsub.ValidationAccept:
		return "accept"
	case pubsub.ValidationIgnore:
		return "ignore"
	default:
		return "reject"
	}
}

// validateCmd: one verdict per `TOPIC HEX` line from op-node's own validator and message-id
// function, with the validators' state (seen blocks) kept across lines as in a live node.
var validateCmd = &cli.Command{
	Name:  "validate",
	Usage: "validate `TOPIC HEX` gossip messages from stdin with op-node's validator; one JSON verdict per line",
	Flags: append([]cli.Flag{
		&cli.Int64Flag{Name: "now", Usage: "the validator's clock (unix seconds); default: the real clock"},
		&cli.DurationFlag{Name: "p2p.gossip.timestamp.threshold", Value: 60 * time.Second, Usage: "maximum block age"},
	}, chainFlags...),
	Action: func(c *cli.Context) error {
		cfg, err := rollupConfig(c)
		if err != nil {
			return err
		}
		runCfg, err := newRuntimeConfig(c)
		if err != nil {
			return err
		}
		var clk clock.Clock
		if c.IsSet("now") {
			clk = clock.NewDeterministicClock(time.Unix(c.Int64("now"), 0))
		}
		conf := &p2p.Config{GossipTimestampThreshold: c.Duration("p2p.gossip.timestamp.threshold")}
		reasons := newReasonLog()
		validators := map[string]pubsub.ValidatorEx{}
		for i, v := range blockVersions {
			validators[blockTopic(cfg, i)] = p2p.BuildBlocksValidator(reasons.log, cfg, runCfg, v, conf, clk)
		}
		msgID := p2p.BuildMsgIdFn(cfg)
		out := newEmitter()
		in := bufio.NewScanner(os.Stdin)
		in.Buffer(make([]byte, 0, 1<<20), 64<<20)
		from := peer.ID("differential")
		for in.Scan() {
			line := strings.TrimSpace(in.Text())
			if line == "" {
				continue
			}
			fields := strings.Fields(line)
			if len(fields) != 2 {
				out.emit("verdict", map[string]any{"verdict": "reject", "reason": "malformed_input"})
				continue
			}
			topic := fields[0]
			data, err := hex.DecodeString(strings.TrimPrefix(fields[1], "0x"))
			if err != nil {
				out.emit("verdict", map[string]any{"verdict": "reject", "reason": "malformed_input"})
				continue
			}
			pmsg := &pb.Message{Data: data, Topic: &topic}
			id := hexID(msgID(pmsg))
			validator, ok := validators[topic]
			if !ok {
				// op-node has no validator here: its subscription filter drops the topic.
				out.emit("verdict", map[string]any{"verdict": "reject", "reason": "unknown_topic", "message_id": id})
				continue
			}
			msg := &pubsub.Message{Message: pmsg, ID: msgID(pmsg), ReceivedFrom: from}
			res, panicked := guarded(validator, context.Background(), from, msg)
			fields2 := map[string]any{"verdict": verdictName(res), "message_id": id}
			if panicked {
				fields2["reason"] = "gossip validation panic"
			} else if res != pubsub.ValidationAccept {
				fields2["reason"] = reasons.take()
			}
			if env, ok := msg.ValidatorData.(*eth.ExecutionPayloadEnvelope); ok && env != nil {
				fields2["number"] = uint64(env.ExecutionPayload.BlockNumber)
				fields2["block_hash"] = env.ExecutionPayload.BlockHash.String()
			}
			reasons.take()
			out.emit("verdict", fields2)
		}
		return in.Err()
	},
}
