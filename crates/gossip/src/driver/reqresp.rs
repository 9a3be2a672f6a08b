//! The driver's side of the `payload_by_number` server: feeding its store, recording what it
//! answered.

use std::sync::Arc;

use op_alloy_rpc_types_engine::OpNetworkPayloadEnvelope;
use tracing::{debug, trace};

use super::GossipDriver;
use crate::reqresp::{PayloadServerEvent, ServedPayload};

impl GossipDriver {
    /// Keeps a validated block (accepted from gossip or published by us) for
    /// `payload_by_number`. Encoding is a copy of the block's bytes; compression happens only
    /// when someone asks, in the connection's task.
    pub(super) fn keep_for_req_resp(&mut self, envelope: &OpNetworkPayloadEnvelope) {
        let Some(server) = self.swarm.behaviour_mut().payload_by_number.as_mut() else {
            return;
        };
        let number = envelope.payload.block_number();
        match ServedPayload::from_envelope(envelope) {
            Ok(payload) => {
                if !server.insert(number, Arc::new(payload)) {
                    trace!(number, "payload not kept for payload_by_number");
                }
            }
            // Unreachable for a validated block: its version and root were checked.
            Err(e) => debug!(number, error = %e, "cannot encode payload for payload_by_number"),
        }
    }

    /// Records a `payload_by_number` answer. No answer changes the asker's score.
    pub(super) fn on_payload_server_event(&mut self, event: PayloadServerEvent) {
        match event {
            PayloadServerEvent::Answered {
                peer,
                number,
                result,
                delay,
            } => {
                opmesh_metrics::record_req(result);
                debug!(%peer, ?number, result = result.label(), ?delay, "payload_by_number answered");
            }
            PayloadServerEvent::Failed { peer, error } => {
                debug!(%peer, %error, "payload_by_number stream failed");
            }
        }
    }
}
