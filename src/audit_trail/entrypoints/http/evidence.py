"""The endpoints of the tenant log: key, checkpoint, consistency, leaves, entry proofs."""

from __future__ import annotations

import base64

from audit_trail.core.ports.signer import NoteSigner
from audit_trail.core.serialization import entry_to_json
from audit_trail.core.usecases.evidence import EntryProofQuery, LogEvidence
from audit_trail.entrypoints.http.messages import HttpResponse, json_response
from audit_trail.entrypoints.http.parameters import integer_parameters
from audit_trail.entrypoints.http.routes import Call, Endpoint

_NOTE_HEADERS = (("content-type", "text/plain; charset=utf-8"),)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class EvidenceEndpoints:
    """Receives the log's use cases and the signer; never reaches into the container."""

    def __init__(self, evidence: LogEvidence, signer: NoteSigner) -> None:
        self._evidence = evidence
        self._key = json_response(
            200,
            {"name": signer.name, "public_key": b64(signer.public_key), "vkey": signer.vkey},
        )

    def endpoints(self) -> dict[str, Endpoint]:
        return {
            "getLogKey": self.log_key,
            "getLogCheckpoint": self.checkpoint,
            "getLogConsistency": self.consistency,
            "getLogLeaves": self.leaves,
            "getEntryProof": self.entry_proof,
        }

    async def log_key(self, call: Call) -> HttpResponse:
        return self._key

    async def checkpoint(self, call: Call) -> HttpResponse:
        integer_parameters(call.request.query, ())
        checkpoint = await self._evidence.checkpoint(call.caller)
        return HttpResponse(200, _NOTE_HEADERS, checkpoint.note.encode())

    async def consistency(self, call: Call) -> HttpResponse:
        sizes = integer_parameters(call.request.query, ("first", "second"))
        first, second = sizes["first"], sizes["second"]
        proof = await self._evidence.consistency(call.caller, first, second)
        return json_response(
            200, {"first": first, "second": second, "proof": [b64(h) for h in proof]}
        )

    async def leaves(self, call: Call) -> HttpResponse:
        bounds = integer_parameters(call.request.query, ("start", "end"))
        leaves = await self._evidence.leaves(call.caller, bounds["start"], bounds["end"])
        return json_response(
            200, {"leaves": [{"index": leaf.index, "leaf": leaf.leaf} for leaf in leaves]}
        )

    async def entry_proof(self, call: Call) -> HttpResponse:
        options = integer_parameters(call.request.query, (), ("revision", "tree_size"))
        query = EntryProofQuery(
            call.caller,
            call.path_param("entry_id"),
            revision=options.get("revision"),
            tree_size=options.get("tree_size"),
        )
        proof = await self._evidence.entry_proof(query)
        return json_response(
            200,
            {
                "entry": entry_to_json(proof.entry),
                "leaf_index": proof.leaf_index,
                "tree_size": proof.tree_size,
                "leaf": proof.leaf,
                "salts": {path: b64(salt) for path, salt in proof.salts.items()},
                "inclusion": [b64(h) for h in proof.inclusion],
                "checkpoint": proof.checkpoint,
            },
        )
