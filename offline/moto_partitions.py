"""moto's Query made to cost what DynamoDB's costs: the items of one partition page, not the table.

moto answers every Query by sorting *all* the table's items and filtering them down to the
partition (moto/dynamodb/models/table.py, `Table.query` over `all_items()`), so with moto as it is
the latency of any Query grows with the table, whatever the product does. DynamoDB reads one
partition in sort-key order from where the page starts, up to `Limit` items (or 1 MB). This shim
gives moto the same shape: each partition (of the table or of a GSI) is kept as a sorted list,
and a Query hands moto's own code only the slice a page can touch: from the range condition's
bound or the ExclusiveStartKey, `Limit + 2` items in the query's direction. moto still applies the
key condition, the start key, the limit and any filter to that slice, so the answer is moto's own
(a FilterExpression applies after the limit, in moto as in DynamoDB; a legacy QueryFilter gets
the whole partition).

A route that reads a whole growing partition (an unbounded query) therefore still grows with the
data, and a Scan is untouched (and refused by the benchmark): only moto's own table-wide work is
gone. The sorted lists are built on a partition's first Query and dropped when a write touches the
partition (put, update, delete, as BatchWriteItem and TransactWriteItems make them).

    from offline import moto_partitions
    moto_partitions.install()   # before or inside mock_aws(); idempotent
"""

from __future__ import annotations

import bisect
import inspect
from typing import Any

_CACHE = "_bench_partitions"
_originals: dict[str, Any] = {}
_generation = [0]  # a new one at each install: caches kept while moto ran without the shim are stale


def _index_attrs(table: Any, index_name: str | None) -> tuple[list[str], list[str]]:
    """(hash attributes, sort attributes) of the table or of one of its indexes, in sort order."""
    if index_name is None:
        return [table.hash_key_attr], [table.range_key_attr] if table.range_key_attr else []
    index = next(i for i in table.all_indexes() if i.name == index_name)
    hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
    ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
    # Ties within an index are ordered by the table's keys.
    tail = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return hashes, ranges + [a for a in tail if a not in ranges]


def _partition_keys(table: Any, item: Any) -> list[tuple[Any, ...]]:
    """The cache keys of every partition `item` belongs to (the table's and each index's)."""
    found: list[tuple[Any, ...]] = [(None, item.hash_key)]
    for index in table.all_indexes():
        hashes, _ = _index_attrs(table, index.name)
        values = [item.attrs.get(a) for a in hashes]
        if all(v is not None for v in values):
            found.append((index.name, *values))
    return found


def _cache(table: Any) -> dict[tuple[Any, ...], tuple[list[tuple[Any, ...]], list[Any]]]:
    generation, cache = table.__dict__.get(_CACHE, (None, None))
    if cache is None or generation != _generation[0]:
        cache = {}
        table.__dict__[_CACHE] = (_generation[0], cache)
    return cache


def _forget(table: Any, item: Any) -> None:
    if item is None:
        return
    cache = _cache(table)
    for key in _partition_keys(table, item):
        cache.pop(key, None)


def _sort_key(item: Any, attrs: list[str]) -> tuple[Any, ...]:
    return tuple(item.attrs[a].cast_value if a in item.attrs else "" for a in attrs)


def _partition(table: Any, index_name: str | None, hash_values: list[Any]) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """(sort keys, items) of one partition, sorted; built on first use."""
    cache_key = (index_name, *hash_values)
    cache = _cache(table)
    if cache_key not in cache:
        hashes, ranges = _index_attrs(table, index_name)
        if index_name is None:
            bucket = table.items.get(hash_values[0])
            members = [] if bucket is None else (list(bucket.values()) if table.range_key_attr else [bucket])
        else:
            # Built once per partition from the whole table (then kept until a write touches it).
            members = [
                item
                for item in _all_items(table)
                if all(a in item.attrs and item.attrs[a] == v for a, v in zip(hashes, hash_values, strict=True))
                and all(a in item.attrs for a in ranges[:1])
            ]
        pairs = sorted(((_sort_key(i, ranges), i) for i in members), key=lambda p: p[0])
        cache[cache_key] = ([p[0] for p in pairs], [p[1] for p in pairs])
    return cache[cache_key]


def _all_items(table: Any) -> list[Any]:
    items: list[Any] = []
    for bucket in table.items.values():
        items.extend(bucket.values() if table.range_key_attr else [bucket])
    return items


def _window(keys: list[tuple[Any, ...]], comparison: str | None, bounds: list[Any]) -> tuple[int, int]:
    """[lo, hi) of the sorted keys the range condition can match (on the first sort attribute)."""
    if not comparison or not bounds:
        return 0, len(keys)
    firsts = [k[0] for k in keys]
    values = [b.cast_value for b in bounds]
    if comparison == "BEGINS_WITH" and isinstance(values[0], str):
        return bisect.bisect_left(firsts, values[0]), bisect.bisect_left(firsts, values[0] + "\U0010ffff")
    if comparison == "BETWEEN":
        return bisect.bisect_left(firsts, values[0]), bisect.bisect_right(firsts, values[1])
    if comparison == "=":
        return bisect.bisect_left(firsts, values[0]), bisect.bisect_right(firsts, values[0])
    if comparison == ">":
        return bisect.bisect_right(firsts, values[0]), len(keys)
    if comparison == ">=":
        return bisect.bisect_left(firsts, values[0]), len(keys)
    if comparison == "<":
        return 0, bisect.bisect_left(firsts, values[0])
    if comparison == "<=":
        return 0, bisect.bisect_right(firsts, values[0])
    return 0, len(keys)


def candidates(
    table: Any,
    index_name: str | None,
    hash_values: list[Any],
    comparison: str | None,
    bounds: list[Any],
    limit: int | None,
    exclusive_start_key: dict[str, Any] | None,
    forward: bool,
    filtered: bool,
) -> list[Any]:
    """The items of the partition a page can touch, in sort order."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    keys, items = _partition(table, index_name, hash_values)
    lo, hi = _window(keys, comparison, bounds)
    if exclusive_start_key:
        _, ranges = _index_attrs(table, index_name)
        start = tuple(DynamoType(exclusive_start_key[a]).cast_value if a in exclusive_start_key else "" for a in ranges)
        if forward:
            lo = max(lo, bisect.bisect_left(keys, start, lo, hi))
        else:
            hi = min(hi, bisect.bisect_right(keys, start, lo, hi))
    if limit and not filtered:
        # moto marks LastEvaluatedKey when it meets one more item than the limit; the start key's
        # own item may be in the slice too.
        if forward:
            hi = min(hi, lo + limit + 2)
        else:
            lo = max(lo, hi - limit - 2)
    # One neighbour on each side outside the condition: moto, like DynamoDB, returns a
    # LastEvaluatedKey when the page is full and the partition goes on.
    return items[max(0, lo - 1) : hi + 1]


def install() -> None:
    """Patch moto's Table.query and its writes (idempotent; `uninstall` puts moto back)."""
    if _originals:
        return
    _generation[0] += 1
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original_query = Table.query
    original_put = Table.put_item
    original_delete = Table.delete_item
    original_update = DynamoDBBackend.update_item

    signature = inspect.signature(original_query)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = signature.bind(self, *args, **kwargs)
        call.apply_defaults()
        given = call.arguments
        index_name = given["index_name"]
        if index_name is None:
            hash_values = [given["hash_key"]]
        else:
            hashes, _ = _index_attrs(self, index_name)
            conditions = dict(given["hash_key_conditions"] or [])
            if set(conditions) != set(hashes):
                return original_query(*call.args, **call.kwargs)
            hash_values = [conditions[a] for a in hashes]
        comparison, bounds = given["range_comparison"], given["range_objs"]
        if given["range_key_conditions"]:
            _, comparison, bounds = given["range_key_conditions"][-1]
        page = candidates(
            self,
            index_name,
            hash_values,
            comparison,
            bounds,
            given["limit"],
            given["exclusive_start_key"],
            given["scan_index_forward"] is not False,
            # moto applies a FilterExpression after the limit, as DynamoDB does; the legacy
            # QueryFilter (filter_kwargs) before it.
            filtered=bool(given["filter_kwargs"]),
        )
        self.all_items = lambda: list(page)
        try:
            return original_query(*call.args, **call.kwargs)
        finally:
            del self.all_items

    def put_item(self: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        hash_value = DynamoType(item_attrs[self.hash_key_attr])
        range_value = DynamoType(item_attrs[self.range_key_attr]) if self.range_key_attr else None
        _forget(self, self.get_item(hash_value, range_value))
        item = original_put(self, item_attrs, *args, **kwargs)
        _forget(self, item)
        return item

    def delete_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = original_delete(self, *args, **kwargs)
        _forget(self, item)
        return item

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        table = self.get_table(table_name)
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        _forget(table, table.get_item(hash_value, range_value))
        item = original_update(self, table_name, key, *args, **kwargs)
        _forget(table, item)
        return item

    _originals.update(query=original_query, put_item=original_put, delete_item=original_delete)
    _originals["update_item"] = original_update
    Table.query = query  # type: ignore[method-assign]
    Table.put_item = put_item  # type: ignore[method-assign]
    Table.delete_item = delete_item  # type: ignore[method-assign]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]


def uninstall() -> None:
    """moto as it was (tables keep their cached partitions, unused without the shim)."""
    if not _originals:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    Table.query = _originals.pop("query")  # type: ignore[method-assign]
    Table.put_item = _originals.pop("put_item")  # type: ignore[method-assign]
    Table.delete_item = _originals.pop("delete_item")  # type: ignore[method-assign]
    DynamoDBBackend.update_item = _originals.pop("update_item")  # type: ignore[method-assign]
