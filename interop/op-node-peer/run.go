package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/urfave/cli/v2"

	"github.com/ethereum/go-ethereum/log"

	"github.com/ethereum-optimism/optimism/op-node/metrics"
	"github.com/ethereum-optimism/optimism/op-node/p2p"
	"github.com/ethereum-optimism/optimism/op-node/p2p/store"
	"github.com/ethereum-optimism/optimism/op-node/rollup"
	"github.com/ethereum-optimism/optimism/op-service/eth"
)

var runFlags = []cli.Flag{
	&cli.StringSliceFlag{Name: "connect", Usage: "multiaddrs (with /p2p/) to dial once after start"},
	&cli.DurationFlag{Name: "produce.interval", Usage: "publish a signed block every interval (needs --p2p.sequencer.key); 0 = never"},
	&cli.Uint64Flag{Name: "produce.count", Value: 0, Usage: "stop producing after this many blocks (0 = no limit)"},
	&cli.Uint64Flag{Name: "produce.first", Value: 1, Usage: "number of the first produced block"},
	&cli.DurationFlag{Name: "produce.delay", Usage: "wait this long after start before producing"},
	&cli.StringSliceFlag{Name: "produce.timestamps", Usage: "explicit block timestamps (unix seconds) instead of the clock, one per block"},
	&cli.DurationFlag{Name: "score.interval", Value: time.Second, Usage: "how often to print the scorebook's view of connected peers"},
	&cli.DurationFlag{Name: "exit-after", Usage: "stop after this long (0 = run until stdin closes or SIGTERM)"},
	&cli.StringFlag{Name: "log.level", Value: "warn", Usage: "stderr log level: debug, info, warn, error"},
}

// setup is op-node's p2p.Config with one addition to its gossip options: a raw tracer that
// prints control messages (IHAVE/IWANT/GRAFT/PRUNE). Everything else is op-node's.
type setup struct {
	*p2p.Config
	tracer pubsub.RawTracer
}

func (s *setup) ConfigureGossip(rollupCfg *rollup.Config) []pubsub.Option {
	return append(s.Config.ConfigureGossip(rollupCfg), pubsub.WithRawTracer(s.tracer))
}

// gossipIn receives the blocks op-node's subscriber hands on after validation.
type gossipIn struct{ out *emitter }

func (g gossipIn) OnUnsafeL2Payload(_ context.Context, from peer.ID, env *eth.ExecutionPayloadEnvelope) error {
	g.out.emit("payload", map[string]any{
		"from":       from.String(),
		"number":     uint64(env.ExecutionPayload.BlockNumber),
		"block_hash": env.ExecutionPayload.BlockHash.String(),
	})
	return nil
}

func stderrLogger(level string) log.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		lvl = slog.LevelWarn
	}
	return log.NewLogger(log.NewTerminalHandlerWithLevel(os.Stderr, lvl, false))
}

var runCmd = &cli.Command{
	Name:  "run",
	Usage: "run an op-node P2P stack (host, gossip, discv5) and print JSON events",
	Flags: append(append(append([]cli.Flag{}, p2pFlags...), chainFlags...), runFlags...),
	Action: func(c *cli.Context) error {
		ctx, cancel := context.WithCancel(c.Context)
		defer cancel()
		logger := stderrLogger(c.String("log.level"))
		out := newEmitter()
		cfg, err := rollupConfig(c)
		if err != nil {
			return err
		}
		runCfg, err := newRuntimeConfig(c)
		if err != nil {
			return err
		}
		conf, err := p2pConfig(c, cfg.BlockTime)
		if err != nil {
			return cli.Exit(err.Error(), 2)
		}
		signer, err := sequencerSigner(c)
		if err != nil {
			return cli.Exit(err.Error(), 2)
		}
		tr := &tracer{out: out}
		st := &setup{Config: conf, tracer: tr}
		node, err := p2p.NewNodeP2P(ctx, cfg, logger, st, gossipIn{out}, nil, runCfg, metrics.NoopMetrics, nil)
		if err != nil {
			return cli.Exit(fmt.Sprintf("p2p start: %v", err), 1)
		}
		defer node.Close()
		h := node.Host()
		tr.self = h.ID()
		if err := wrapValidators(node.GossipSub(), cfg, runCfg, conf, h.ID(), out); err != nil {
			return cli.Exit(err.Error(), 1)
		}
		h.Network().Notify(&notifiee{out: out})

		ready := map[string]any{"peer_id": h.ID().String(), "addrs": fullAddrs(h)}
		if local := node.Dv5Local(); local != nil {
			ready["enr"] = local.Node().String()
			ready["node_id"] = local.ID().String()
			ready["udp"] = local.Node().UDP()
		}
		out.emit("ready", ready)

		if node.Dv5Udp() != nil {
			go node.DiscoveryProcess(ctx, logger, cfg, conf.TargetPeers())
			go reportDiscovery(ctx, node, cfg, logger, out)
		}
		for _, s := range c.StringSlice("connect") {
			addr, err := multiaddrOf(s)
			if err != nil {
				return cli.Exit("bad --connect "+s, 2)
			}
			info, err := peer.AddrInfoFromP2pAddr(addr)
			if err != nil {
				return cli.Exit("bad --connect "+s, 2)
			}
			go func() {
				cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
				defer ccancel()
				if err := h.Connect(cctx, *info); err != nil {
					out.emit("dial_failed", map[string]any{"peer": info.ID.String(), "error": err.Error()})
				}
			}()
		}
		go reportScores(ctx, node, c.Duration("score.interval"), out)
		if iv := c.Duration("produce.interval"); iv > 0 && signer != nil {
			go produce(ctx, c, cfg, node.GossipOut(), signer, out)
		}

		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		stdinClosed := make(chan struct{})
		go func() {
			readCommands(ctx, h, cfg, out)
			close(stdinClosed)
		}()
		var timeout <-chan time.Time
		if d := c.Duration("exit-after"); d > 0 {
			timeout = time.After(d)
		}
		select {
		case <-stop:
		case <-stdinClosed:
		case <-timeout:
		}
		out.emit("exit", nil)
		return nil
	},
}

func fullAddrs(h host.Host) []string {
	var addrs []string
	for _, a := range h.Addrs() {
		addrs = append(addrs, a.String()+"/p2p/"+h.ID().String())
	}
	return addrs
}

// wrapValidators replaces the validators op-node's JoinGossip registered with the same
// op-node validators (BuildBlocksValidator, same timeout and concurrency) wrapped to print
// each verdict with the message id and op-node's logged reason. Validation is serialised so
// the reason read from the log belongs to the message.
func wrapValidators(ps *pubsub.PubSub, cfg *rollup.Config, runCfg p2p.GossipRuntimeConfig, conf *p2p.Config, self peer.ID, out *emitter) error {
	reasons := newReasonLog()
	var mu sync.Mutex
	for i, v := range blockVersions {
		topic := blockTopic(cfg, i)
		inner := p2p.BuildBlocksValidator(reasons.log, cfg, runCfg, v, conf, nil)
		version := i + 1
		wrapped := func(ctx context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
			mu.Lock()
			defer mu.Unlock()
			reasons.take()
			res, panicked := guarded(inner, ctx, from, msg)
			fields := map[string]any{
				"topic":      topic,
				"version":    version,
				"message_id": hexID(msg.ID),
				"from":       from.String(),
				"result":     verdictName(res),
			}
			if panicked {
				fields["reason"] = "gossip validation panic"
			} else if res != pubsub.ValidationAccept {
				fields["reason"] = reasons.take()
			}
			if env, ok := msg.ValidatorData.(*eth.ExecutionPayloadEnvelope); ok && env != nil {
				fields["number"] = uint64(env.ExecutionPayload.BlockNumber)
				fields["block_hash"] = env.ExecutionPayload.BlockHash.String()
				fields["timestamp"] = uint64(env.ExecutionPayload.Timestamp)
			}
			kind := "validated"
			if from == self {
				kind = "published"
			}
			out.emit(kind, fields)
			return res
		}
		if err := ps.UnregisterTopicValidator(topic); err != nil {
			return fmt.Errorf("unregister %s: %w", topic, err)
		}
		if err := ps.RegisterTopicValidator(topic, pubsub.ValidatorEx(wrapped),
			pubsub.WithValidatorTimeout(3*time.Second), pubsub.WithValidatorConcurrency(4)); err != nil {
			return fmt.Errorf("register %s: %w", topic, err)
		}
	}
	return nil
}

// reportScores prints what op-node's scorebook holds for each connected peer. op-node's
// gossipsub writes it every 15 s (peerScoreInspectFrequency), as in production.
func reportScores(ctx context.Context, node *p2p.NodeP2P, every time.Duration, out *emitter) {
	eps, ok := node.Host().Peerstore().(store.ExtendedPeerstore)
	if !ok || every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, id := range node.Host().Network().Peers() {
			scores, err := eps.GetPeerScores(id)
			if err != nil {
				continue
			}
			out.emit("score", map[string]any{
				"peer":               id.String(),
				"total":              scores.Gossip.Total,
				"ip_colocation":      scores.Gossip.IPColocationFactor,
				"behavioral_penalty": scores.Gossip.BehavioralPenalty,
				"req_resp":           scores.ReqResp,
			})
		}
	}
}

type notifiee struct{ out *emitter }

func (n *notifiee) Listen(network.Network, ma.Multiaddr)      {}
func (n *notifiee) ListenClose(network.Network, ma.Multiaddr) {}
func (n *notifiee) Connected(_ network.Network, c network.Conn) {
	n.out.emit("peer_connected", map[string]any{
		"peer": c.RemotePeer().String(), "addr": c.RemoteMultiaddr().String(), "direction": c.Stat().Direction.String(),
	})
}
func (n *notifiee) Disconnected(_ network.Network, c network.Conn) {
	n.out.emit("peer_disconnected", map[string]any{"peer": c.RemotePeer().String()})
}

func multiaddrOf(s string) (ma.Multiaddr, error) {
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		return nil, fmt.Errorf("bad multiaddr %q: %w", s, err)
	}
	return a, nil
}
