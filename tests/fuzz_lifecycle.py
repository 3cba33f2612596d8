"""The fuzz test's lifecycle scenario: connection → sync → trigger → runs → cancel / retry →
archive → delete, with valid bodies and hostile variants at every step.

Schemathesis' own stateful phase follows the schema's links, but a sync needs a complete
body (a provider's config matching its JSON Schema, secrets, entities of that provider), which
generated documents almost never are, so its scenarios rarely get past "create connection".
Here a hypothesis state machine builds the valid documents from what the server publishes (the
provider catalog: each provider's config and secrets schemas with their examples, its
resources) and mixes in hostile ones: schemathesis-generated bodies and parameters of the
same operations (valid and invalid, with the real ids swapped in), another provider's config,
internal hosts, unknown entities, missing or wrong linkage, actions in the wrong state.

Every response goes through the given schemathesis checks (no 5xx, documented status,
content type, headers and body); a failed check is recorded, not raised (the caller asserts),
so hypothesis never shrinks or replays a scenario.
``Lifecycle.calls`` counts the statuses per operation id, so the caller can assert that the
scenario really reached each operation.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import requests
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    get_state_machine_test,
    multiple,
    precondition,
    rule,
)
from schemathesis import GenerationMode

MEDIA_TYPE = "application/vnd.api+json"
INTERNAL_HOSTS = ["10.0.0.7", "169.254.169.254", "192.168.1.1", "[fd00::1]"]
# Providers whose example configs make a sync with entities of their own (http_api's
# streams): favoured so that most scenarios get past "create sync".
FAVOURED_PROVIDER = "http_api"


@dataclass
class Lifecycle:
    """What the scenario did."""

    calls: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    # operation id -> (status, first error detail) -> count: what refused the requests
    details: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[str] = field(default_factory=list)
    examples: int = 0

    def succeeded(self, operation_id: str) -> int:
        return sum(count for status, count in self.calls[operation_id].items()
                   if 200 <= status < 300)


class Api:
    """Calls operations of the schema by operation id and validates every response."""

    def __init__(self, schema, base_url: str, key: str, checks: list, outcome: Lifecycle):
        self.base_url = base_url
        self.deadline = float("inf")
        self.headers = {"X-API-Key": key}
        self.checks = checks
        self.outcome = outcome
        self.session = requests.Session()
        self.session.trust_env = False
        self.operations = {}
        self.strategies: dict[tuple[str, GenerationMode], Any] = {}
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation is not None and operation.definition.raw.get("operationId"):
                self.operations[operation.definition.raw["operationId"]] = operation

    def strategy(self, operation_id: str, mode: GenerationMode):
        """Schemathesis' cases of the operation (built once: building one costs)."""
        key = (operation_id, mode)
        if key not in self.strategies:
            self.strategies[key] = self.operations[operation_id].as_strategy(
                generation_mode=mode)
        return self.strategies[key]

    def case(self, operation_id: str, **parts: Any):
        if "body" in parts:
            parts.setdefault("media_type", MEDIA_TYPE)
        return self.operations[operation_id].Case(**parts)

    def send(self, case) -> tuple[int, Any]:
        """Send ``case``; return its status and parsed body (None unless JSON). Past the
        deadline nothing is sent (status 0): the scenario under way ends at once."""
        if time.monotonic() > self.deadline:
            return 0, None
        operation_id = case.operation.definition.raw["operationId"]
        response = case.call(base_url=self.base_url, session=self.session,
                             headers=self.headers, timeout=30)
        self.outcome.calls[operation_id][response.status_code] += 1
        try:
            case.validate_response(response, checks=self.checks, headers=self.headers)
        except Exception as exc:  # noqa: BLE001 - every failed check is reported by the caller
            self.outcome.failures.append(
                f"[lifecycle {operation_id}] {type(exc).__name__}: {str(exc)[:1500]}\n"
                f"{response.status_code} {response.content[:300]!r}\n"
                f"{case.as_curl_command(headers=self.headers)[:1500]}")
        try:
            document = response.json()
        except ValueError:
            return response.status_code, None
        if response.status_code >= 400 and isinstance(document, dict):
            errors = document.get("errors") or [{}]
            detail = str(errors[0].get("detail") if isinstance(errors[0], dict) else "?")
            self.outcome.details[operation_id][(response.status_code, detail[:90])] += 1
        return response.status_code, document

    def call(self, operation_id: str, **parts: Any) -> tuple[int, Any]:
        return self.send(self.case(operation_id, **parts))


def _created_id(status: int, document: Any) -> str | None:
    if 200 <= status < 300 and isinstance(document, dict) \
            and isinstance(document.get("data"), dict):
        return document["data"].get("id")
    return None


def _linkage(connection_id: Any, type_name: Any = "connections") -> dict:
    return {"connection": {"data": {"type": type_name, "id": connection_id}}}


@dataclass
class Provider:
    """A provider as the catalog publishes it."""

    key: str
    configs: list[dict]
    secrets: list[dict]
    entities: list[str]
    default_entities: list[str]


def load_providers(api: Api) -> list[Provider]:
    status, listing = api.call("syncs_providers_list")
    assert status == 200, status
    providers = []
    for item in listing["data"]:
        status, document = api.call("syncs_providers_catalog",
                                    path_parameters={"provider": item["id"]})
        assert status == 200, status
        catalog = document["data"]["attributes"]
        configs = catalog["config_schema"].get("examples") or [{}]
        secrets = (catalog.get("secrets_schema") or {}).get("examples") or [{}]
        # A dynamic provider's entities are named by its config (streams, tables, queries).
        named = [stream["name"] for config in configs
                 for stream in config.get("streams", []) + config.get("tables", [])
                 + config.get("queries", []) if isinstance(stream, dict) and "name" in stream]
        providers.append(Provider(item["id"], configs, secrets,
                                  catalog["available_resources"] + named,
                                  catalog["default_resources"]))
    return providers


def build_machine(api: Api, providers: list[Provider]):
    """The state machine class, bound to ``api``."""
    by_key = {provider.key: provider for provider in providers}
    favoured = [by_key[FAVOURED_PROVIDER]] if FAVOURED_PROVIDER in by_key else providers
    names = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1,
                    max_size=40)

    class SyncLifecycle(RuleBasedStateMachine):
        connections = Bundle("connections")
        syncs = Bundle("syncs")
        runs = Bundle("runs")

        def __init__(self) -> None:
            super().__init__()
            api.outcome.examples += 1
            self.provider_of: dict[str, Provider] = {}
            self.connection_count = self.sync_count = 0  # in the bundles

        # --- the valid steps, shared by the rules --------------------------------------------
        def new_connection(self, data, choices) -> str | None:
            provider = data.draw(st.sampled_from(choices))
            attributes = {"provider": provider.key,
                          "name": f"{data.draw(names)} {uuid.uuid4().hex[:8]}",
                          "config": data.draw(st.sampled_from(provider.configs)),
                          "secrets": data.draw(st.sampled_from(provider.secrets))}
            status, document = api.call("connections_create", body={"data": {
                "type": "connections", "attributes": attributes}})
            created = _created_id(status, document)
            if created is not None:
                self.provider_of[created] = provider
            return created

        def new_sync(self, connection: str, data, statuses) -> str | None:
            provider = self.provider_of[connection]
            attributes: dict[str, Any] = {"name": data.draw(names)}
            entities = data.draw(st.one_of(
                st.none(), st.just(provider.default_entities),
                st.lists(st.sampled_from(provider.entities), min_size=1, unique=True)
                if provider.entities else st.none()))
            if entities is not None:
                attributes["entities"] = entities
            status_choice = data.draw(st.sampled_from(statuses))
            if status_choice:
                attributes["status"] = status_choice
            status, document = api.call("syncs_create", body={"data": {
                "type": "syncs", "attributes": attributes,
                "relationships": _linkage(connection)}})
            return _created_id(status, document)

        def new_run(self, sync: str, data) -> str | None:
            body = data.draw(st.sampled_from([None, {}, "incremental", "full_refresh"]))
            if isinstance(body, str):
                body = {"data": {"type": "sync-triggers", "attributes": {"run_mode": body}}}
            parts: dict[str, Any] = {"path_parameters": {"id": sync}}
            if body is not None:
                parts["body"] = body
            return _created_id(*api.call("syncs_trigger", **parts))

        @rule(data=st.data())
        def whole_lifecycle(self, data):
            """Connection → active sync → trigger → runs → cancel → retry → archive →
            delete, each step valid (the order most clients follow), with hostile requests
            (the rules below) about the same resources mixed in: the chain is one rule, so
            that every scenario gets to its end."""

            def maybe(step, *args) -> None:
                if data.draw(st.booleans()):
                    step(*args, data)

            connection = self.new_connection(data, favoured)
            if connection is None:
                return
            maybe(self.create_hostile_connection)
            maybe(self.read_or_check_connection, connection)
            # A connection some sync used is never deleted (the runs are its history): one
            # lifecycle in three deletes its connection unused.
            with_sync = data.draw(st.sampled_from([True, True, False]))
            sync = self.new_sync(connection, data, ["active"]) if with_sync else None
            if sync is not None:
                maybe(self.create_hostile_sync, connection)
                run = self.new_run(sync, data)
                maybe(self.trigger_hostile, sync)
                api.call("syncs_sync_pk_runs_list", path_parameters={"sync_pk": sync})
                maybe(self.list_runs, sync)
                if run is not None:
                    api.call("syncs_runs_retrieve", path_parameters={"id": run})
                    api.call("syncs_runs_cancel", path_parameters={"id": run}, body={
                        "data": {"type": "sync-run-cancels",
                                 "attributes": {"reason": data.draw(names)}}})
                    maybe(self.cancel_run, run)
                    retried = _created_id(*api.call("syncs_runs_retry",
                                                    path_parameters={"id": run}, body={}))
                    api.call("syncs_sync_pk_runs_list", path_parameters={"sync_pk": sync},
                             query={"sort": "-created_at"})
                    if retried is not None:  # archiving waits for no run
                        maybe(self.retry_run, retried)
                        api.call("sync_runs_cancel", path_parameters={"id": retried})
                maybe(self.update_sync, sync)
                self.archive_sync(sync)
            maybe(self.update_connection, connection)
            self.delete_connection(connection)

        # --- connections --------------------------------------------------------------------
        # A few connections and syncs per scenario: the steps go to what is done with them.
        @precondition(lambda self: self.connection_count < 3)
        @rule(target=connections, data=st.data())
        def create_connection(self, data):
            created = self.new_connection(data, data.draw(st.sampled_from([favoured,
                                                                          providers])))
            if created is None:
                return multiple()
            self.connection_count += 1
            return created

        @rule(data=st.data())
        def create_hostile_connection(self, data):
            provider, other = (data.draw(st.sampled_from(providers)) for _ in range(2))
            config = dict(data.draw(st.sampled_from(provider.configs)))
            variant = data.draw(st.sampled_from(["other config", "internal", "no secrets",
                                                 "generated", "invalid"]))
            if variant in ("generated", "invalid"):
                mode = GenerationMode.POSITIVE if variant == "generated" \
                    else GenerationMode.NEGATIVE
                api.send(data.draw(api.strategy("connections_create", mode)))
                return
            if variant == "internal":
                host = data.draw(st.sampled_from(INTERNAL_HOSTS))
                for name in ("host", "base_url", "endpoint_url", "tracking_uri",
                             "instance_url", "site_url"):
                    if name in config:
                        config[name] = host.strip("[]") if name == "host" \
                            else f"https://{host}/"
            attributes = {"provider": provider.key, "name": uuid.uuid4().hex,
                          "config": data.draw(st.sampled_from(other.configs))
                          if variant == "other config" else config}
            if variant != "no secrets":
                attributes["secrets"] = data.draw(st.sampled_from(provider.secrets))
            api.call("connections_create", body={"data": {"type": "connections",
                                                          "attributes": attributes}})

        @rule(connection=connections, data=st.data())
        def read_or_check_connection(self, connection, data):
            operation_id = data.draw(st.sampled_from(["connections_retrieve",
                                                      "connections_check"]))
            api.call(operation_id, path_parameters={"id": connection})

        @rule(connection=connections, data=st.data())
        def update_connection(self, connection, data):
            mode = data.draw(st.sampled_from([GenerationMode.POSITIVE,
                                              GenerationMode.NEGATIVE]))
            case = data.draw(api.strategy("connections_partial_update", mode))
            case.path_parameters = {"id": connection}
            if isinstance(case.body, dict) and isinstance(case.body.get("data"), dict) \
                    and data.draw(st.booleans()):
                case.body["data"]["id"] = connection
            api.send(case)

        @rule(connection=consumes(connections))
        def delete_connection(self, connection):
            api.call("connections_destroy", path_parameters={"id": connection})
            api.call("connections_retrieve", path_parameters={"id": connection})

        # --- syncs --------------------------------------------------------------------------
        @precondition(lambda self: self.sync_count < 4)
        @rule(target=syncs, connection=connections, data=st.data())
        def create_sync(self, connection, data):
            created = self.new_sync(connection, data, ["active", "active", "paused", None])
            if created is None:
                return multiple()
            self.sync_count += 1
            return created

        @rule(connection=connections, data=st.data())
        def create_hostile_sync(self, connection, data):
            variant = data.draw(st.sampled_from(["generated", "invalid", "entities",
                                                 "missing connection", "linkage"]))
            if variant in ("generated", "invalid"):
                mode = GenerationMode.POSITIVE if variant == "generated" \
                    else GenerationMode.NEGATIVE
                case = data.draw(api.strategy("syncs_create", mode))
                body = case.body
                if isinstance(body, dict) and isinstance(body.get("data"), dict) \
                        and data.draw(st.booleans()):
                    body["data"]["relationships"] = _linkage(connection)
                api.send(case)
                return
            attributes: dict[str, Any] = {"name": uuid.uuid4().hex}
            relationships = _linkage(connection)
            if variant == "entities":
                attributes["entities"] = data.draw(st.lists(names, min_size=1, max_size=3))
            elif variant == "missing connection":
                relationships = _linkage(str(uuid.uuid4()))
            else:
                relationships = _linkage(
                    data.draw(st.sampled_from([connection, None, 7, "", connection.upper()])),
                    data.draw(st.sampled_from(["connections", "syncs", None, ""])))
            api.call("syncs_create", body={"data": {"type": "syncs", "attributes": attributes,
                                                    "relationships": relationships}})

        @rule(sync=syncs, data=st.data())
        def update_sync(self, sync, data):
            mode = data.draw(st.sampled_from([GenerationMode.POSITIVE,
                                              GenerationMode.NEGATIVE]))
            case = data.draw(api.strategy("syncs_partial_update", mode))
            case.path_parameters = {"id": sync}
            if isinstance(case.body, dict) and isinstance(case.body.get("data"), dict):
                case.body["data"]["id"] = sync
            api.send(case)

        @rule(target=runs, sync=syncs, data=st.data())
        def trigger(self, sync, data):
            created = self.new_run(sync, data)
            return multiple() if created is None else created

        @rule(sync=syncs, data=st.data())
        def trigger_hostile(self, sync, data):
            case = data.draw(api.strategy("syncs_trigger", GenerationMode.NEGATIVE))
            case.path_parameters = {"id": sync}
            api.send(case)

        @rule(sync=syncs, data=st.data())
        def list_runs(self, sync, data):
            mode = data.draw(st.sampled_from([GenerationMode.POSITIVE,
                                              GenerationMode.NEGATIVE]))
            case = data.draw(api.strategy("syncs_sync_pk_runs_list", mode))
            case.path_parameters = {"sync_pk": sync}
            api.send(case)
            api.call("syncs_sync_pk_runs_list", path_parameters={"sync_pk": sync})

        @rule(sync=consumes(syncs))
        def archive_sync(self, sync):
            api.call("syncs_destroy", path_parameters={"id": sync})
            # An archived sync stays readable; it cannot run again.
            api.call("syncs_retrieve", path_parameters={"id": sync})
            api.call("syncs_trigger", path_parameters={"id": sync}, body={})

        # --- runs ---------------------------------------------------------------------------
        @rule(run=runs, data=st.data())
        def read_run(self, run, data):
            api.call(data.draw(st.sampled_from(["syncs_runs_retrieve", "sync_runs_retrieve"])),
                     path_parameters={"id": run})

        @rule(run=runs, data=st.data())
        def cancel_run(self, run, data):
            operation_id = data.draw(st.sampled_from(["syncs_runs_cancel",
                                                      "sync_runs_cancel"]))
            mode = data.draw(st.sampled_from([GenerationMode.POSITIVE,
                                              GenerationMode.NEGATIVE]))
            case = data.draw(api.strategy(operation_id, mode))
            case.path_parameters = {"id": run}
            api.send(case)

        @rule(target=runs, run=runs, data=st.data())
        def retry_run(self, run, data):
            operation_id = data.draw(st.sampled_from(["syncs_runs_retry", "sync_runs_retry"]))
            mode = data.draw(st.sampled_from([GenerationMode.POSITIVE, None]))
            if mode is None:
                status, document = api.call(operation_id, path_parameters={"id": run},
                                            body={})
            else:
                case = data.draw(api.strategy(operation_id, mode))
                case.path_parameters = {"id": run}
                status, document = api.send(case)
            created = _created_id(status, document)
            return multiple() if created is None else created

    return SyncLifecycle


def run_lifecycle(schema, base_url: str, key: str, checks: list, *, seconds: float,
                  fuzz_seed: int, steps: int = 12, examples_per_round: int = 4) -> Lifecycle:
    """Run the scenario for about ``seconds``: rounds of a few examples (of up to ``steps``
    steps), each round seeded from ``fuzz_seed``, until the time is up. (A round always ends
    on its own, its requests unsent past the deadline: stopping hypothesis mid-run would
    make it replay a shorter scenario.)"""
    outcome = Lifecycle()
    api = Api(schema, base_url, key, checks, outcome)
    machine = build_machine(api, load_providers(api))
    api.deadline = time.monotonic() + seconds
    for round_number in itertools.count():
        if time.monotonic() > api.deadline:
            break
        test = get_state_machine_test(machine, settings=settings(
            max_examples=examples_per_round, stateful_step_count=steps, deadline=None,
            database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck)))
        seed(fuzz_seed + round_number)(test)
        test()
    return outcome
