"""What stored data knows about a batch of items (workers/critics/base.Corpus), answered
from the database and the stored indexes. Without a campaign (a preview), earlier items of
the same call count as the campaign's earlier candidates for exact copies."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np
from django.db import connection
from django.db.models import Min

from curation.campaigns.models import Candidate, CandidateStatus
from curation.scoring.models import HeldoutNgram, LshBand, TextEmbedding
from curation.sources.models import Example, Split
from workers.critics import embeddings, minhash, ngrams
from workers.critics.base import Item, Match

SUSPECTS = 20  # LSH suspects verified per item at most (the ones sharing the most bands)
NEIGHBOURS = 5


class DatabaseCorpus:
    def __init__(self, campaign_id: int | None, vectors: dict[int, np.ndarray] | None = None) -> None:
        self.campaign_id = campaign_id
        self.vectors = vectors or {}  # item id -> its embedding (computed by the caller, once)
        self._cache: dict[tuple, object] = {}

    def _once(self, what: str, items: Sequence[Item], compute):
        key = (what, tuple(i.id for i in items))
        if key not in self._cache:  # several critics ask about the same batch
            self._cache[key] = compute(items)
        return self._cache[key]

    def sightings(self, items: Sequence[Item]) -> dict[int, set[str]]:
        return self._once("sightings", items, self._sightings)

    def near(self, items: Sequence[Item]) -> dict[int, list[Match]]:
        return self._once("near", items, self._near)

    def heldout_ngrams(self, items: Sequence[Item]) -> dict[int, dict[str, tuple[int, int]]]:
        return self._once("ngrams", items, self._heldout_ngrams)

    def neighbours(self, items: Sequence[Item], threshold: float) -> dict[int, list[Match]]:
        return self._once(f"neighbours {threshold}", items, lambda i: self._neighbours(i, threshold))

    def _sightings(self, items: Sequence[Item]) -> dict[int, set[str]]:
        keys = {i.text_key for i in items}
        where: dict[str, set[str]] = defaultdict(set)
        for k, split in (
            Example.objects.filter(text_key__in=keys).values_list("text_key", "source__split").distinct()
        ):
            where[k].add("heldout" if split == Split.HELDOUT else "real")
        approved = Candidate.objects.filter(text_key__in=keys, status=CandidateStatus.APPROVED)
        for k in approved.values_list("text_key", flat=True).distinct():
            where[k].add("approved")
        if self.campaign_id is None:
            first: dict[str, int] = {}
            for item in sorted(items, key=lambda i: i.id):
                first.setdefault(item.text_key, item.id)
        else:
            first = dict(
                Candidate.objects.filter(campaign_id=self.campaign_id, text_key__in=keys)
                .values("text_key")
                .annotate(first=Min("id"))
                .values_list("text_key", "first")
            )
        out: dict[int, set[str]] = {}
        for item in items:
            seen = set(where.get(item.text_key, ()))
            if first.get(item.text_key, item.id) < item.id:  # the first copy stays; later ones are flagged
                seen.add("candidate")
            out[item.id] = seen
        return out

    def _near(self, items: Sequence[Item]) -> dict[int, list[Match]]:
        sigs = minhash.signatures([i.response for i in items])
        keys = minhash.band_keys(sigs)
        wordless = {
            i.id for i, sig in zip(items, sigs, strict=True) if (sig == np.iinfo(sig.dtype).max).all()
        }
        owners_of: dict[int, list[tuple[int | None, int | None]]] = defaultdict(list)
        flat = sorted({int(k) for row in keys for k in row})
        for i in range(0, len(flat), 500):
            for key, ex, cand in LshBand.objects.filter(key__in=flat[i : i + 500]).values_list(
                "key", "example_id", "candidate_id"
            ):
                owners_of[key].append((ex, cand))
        suspects: dict[int, list[tuple[int | None, int | None]]] = {}
        for item, row in zip(items, keys, strict=True):
            if item.id in wordless:
                suspects[item.id] = []
                continue
            shared = Counter(o for k in set(row.tolist()) for o in owners_of.get(int(k), ()))
            shared.pop((None, item.id), None)
            suspects[item.id] = [o for o, _ in shared.most_common(SUSPECTS)]
        ex_ids = {ex for s in suspects.values() for ex, _ in s if ex}
        cand_ids = {c for s in suspects.values() for _, c in s if c}
        examples = {
            pk: (split, text, ext or f"example-{pk}")
            for pk, split, text, ext in Example.objects.filter(pk__in=ex_ids).values_list(
                "pk", "source__split", "response", "external_id"
            )
        }
        candidates = {c.pk: c for c in Candidate.objects.filter(pk__in=cand_ids)}
        out: dict[int, list[Match]] = {}
        for item in items:
            found = []
            for ex, cand in suspects[item.id]:
                if ex in examples:
                    split, text, ref = examples[ex]
                    where = "heldout" if split == Split.HELDOUT else "real"
                    found.append(Match(where, ref, text, 0.0))
                elif cand in candidates:
                    where = self._where_candidate(candidates[cand], item)
                    if where:
                        found.append(
                            Match(where, candidates[cand].public_id, candidates[cand].final_response, 0.0)
                        )
            out[item.id] = found
        return out

    def _where_candidate(self, c: Candidate, item: Item) -> str:
        if c.status == CandidateStatus.APPROVED:
            return "approved"
        if c.campaign_id == self.campaign_id and c.pk < item.id:  # the first copy stays
            return "candidate"
        return ""

    def _heldout_ngrams(self, items: Sequence[Item]) -> dict[int, dict[str, tuple[int, int]]]:
        from curation.scoring.models import TextSignature

        grams = {i.id: {int(h) for h in ngrams.ngram_hashes(i.response)} for i in items}
        flat = sorted(set().union(*grams.values())) if grams else []
        holders: dict[int, set[int]] = defaultdict(set)
        for i in range(0, len(flat), 500):
            for key, ex in HeldoutNgram.objects.filter(key__in=flat[i : i + 500]).values_list(
                "key", "example_id"
            ):
                holders[key].add(ex)
        examples = {ex for hs in holders.values() for ex in hs}
        totals = dict(
            TextSignature.objects.filter(example_id__in=examples).values_list("example_id", "ngrams")
        )
        names = {
            pk: ext or f"example-{pk}"
            for pk, ext in Example.objects.filter(pk__in=examples).values_list("pk", "external_id")
        }
        out = {}
        for item in items:
            counts = Counter(ex for h in grams[item.id] for ex in holders.get(h, ()))
            out[item.id] = {
                names.get(ex, f"example-{ex}"): (n, totals.get(ex, n)) for ex, n in counts.items()
            }
        return out

    def _neighbours(self, items: Sequence[Item], threshold: float) -> dict[int, list[Match]]:
        if not items:
            return {}
        queries = np.stack([self.vectors[i.id] for i in items])
        scopes = {
            "real": _examples(Split.TRAIN),
            "heldout": _examples(Split.HELDOUT),
            "approved": _approved(),
        }
        if self.campaign_id is not None:
            scopes["candidate"] = _campaign(self.campaign_id)
        out: dict[int, list[Match]] = {i.id: [] for i in items}
        texts: dict[str, str] = {}
        for where, index in scopes.items():
            if not len(index):
                continue
            found = index.nearest(queries, k=NEIGHBOURS, exclude=[{f"candidate-{i.id}"} for i in items])
            for item, near in zip(items, found, strict=True):
                for n in near:
                    if where == "candidate" and int(n.ref.split("-")[1]) >= item.id:
                        continue  # only earlier candidates: the first copy stays
                    if where != "approved" or n.ref != f"candidate-{item.id}":
                        out[item.id].append(Match(where, n.ref, "", n.similarity))
                        texts[n.ref] = ""
        _fill_texts(out, texts)
        # Keep per item the nearest of each kind, and every one above the threshold.
        for item_id, found in out.items():
            best: dict[str, Match] = {}
            for m in sorted(found, key=lambda m: -m.similarity):
                best.setdefault(m.where, m)
            out[item_id] = [m for m in found if m.similarity >= threshold or best[m.where] is m]
        return out


def _fill_texts(out: dict[int, list[Match]], refs: dict[str, str]) -> None:
    """Each match gets its text and the public id people know it by."""
    ex = [int(r.split("-")[1]) for r in refs if r.startswith("example-")]
    cand = [int(r.split("-")[1]) for r in refs if r.startswith("candidate-")]
    shown: dict[str, tuple[str, str]] = {}
    for e in Example.objects.filter(pk__in=ex).only("pk", "external_id", "response"):
        shown[f"example-{e.pk}"] = (e.public_id, e.response)
    for c in Candidate.objects.filter(pk__in=cand):
        shown[f"candidate-{c.pk}"] = (c.public_id, c.final_response)
    for item_id, found in out.items():
        out[item_id] = [Match(m.where, *shown.get(m.ref, (m.ref, "")), m.similarity) for m in found]


class _Cached:
    """A process-wide vector index of one scope, loaded from the stored embeddings once and
    then only appended to. Checked against the table on every use (row count up to the last
    id loaded), so a database that was emptied or rewritten is never answered from memory."""

    def __init__(self) -> None:
        self.index = embeddings.VectorIndex()
        self.last = 0
        self.mark = None

    def refresh(self, rows, *, recount) -> embeddings.VectorIndex:
        if recount(self.last) != len(self.index):
            self.__init__()
        new = list(rows(self.last))
        if new:
            self.index.add(
                [ref for _, ref, _ in new], np.stack([embeddings.from_bytes(bytes(v)) for *_, v in new])
            )
            self.last = max(pk for pk, _, _ in new)
        return self.index


_indexes: dict[tuple, _Cached] = {}
_lock = threading.Lock()


def _scoped(scope: tuple, base) -> embeddings.VectorIndex:
    base = base.filter(version=embeddings.VERSION)

    def rows(after: int):
        return (
            (pk, f"example-{ex}" if ex else f"candidate-{cand}", v)
            for pk, ex, cand, v in base.filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", "example_id", "candidate_id", "vector")
            .iterator(chunk_size=2000)
        )

    with _lock:
        cached = _indexes.setdefault((connection.settings_dict["NAME"], *scope), _Cached())
        return cached.refresh(rows, recount=lambda last: base.filter(pk__lte=last).count())


def _examples(split: str) -> embeddings.VectorIndex:
    return _scoped(("examples", split), TextEmbedding.objects.filter(example__source__split=split))


def _approved() -> embeddings.VectorIndex:
    # Candidates are approved long after they are embedded: an append-only index by row id
    # would miss them, so this scope is keyed on the approved set's size and rebuilt when
    # it changes (approvals arrive at human speed).
    base = TextEmbedding.objects.filter(
        candidate__status=CandidateStatus.APPROVED, version=embeddings.VERSION
    )
    key = (connection.settings_dict["NAME"], "approved")
    with _lock:
        count = base.count()
        cached = _indexes.get(key)
        if cached is None or cached.mark != count:
            cached = _indexes[key] = _Cached()
            cached.mark = count
            rows = list(base.order_by("pk").values_list("candidate_id", "vector"))
            if rows:
                cached.index.add(
                    [f"candidate-{c}" for c, _ in rows],
                    np.stack([embeddings.from_bytes(bytes(v)) for _, v in rows]),
                )
        return cached.index


def _campaign(campaign_id: int) -> embeddings.VectorIndex:
    return _scoped(
        ("campaign", campaign_id), TextEmbedding.objects.filter(candidate__campaign_id=campaign_id)
    )
