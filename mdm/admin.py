"""Admin for data stewards: golden records, cross-references, review queue, merges, settings.

Every action calls the service layer (`mdm.merge`) and leaves a LogEntry per changed row.
Golden records are read-only here except for pins: values come from survivorship.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import capfirst

from mdm.matching.matcher import comparisons_for, weights_for
from mdm.matching.scoring import field_params, system_shifts
from mdm.matching.scoring import level_weights as scoring_level_weights
from mdm.merge import MergeError, decide_review, merge, unmerge
from mdm.models import (
    Customer,
    Entity,
    GoldenStatus,
    HistoryEntry,
    MatchSettings,
    Merge,
    PairDecision,
    Product,
    ReviewStatus,
    ReviewTask,
    SourceRecord,
    SurvivorshipRule,
    SurvivorshipRuleKind,
    golden_model,
)
from mdm.review import comparison_context
from mdm.survivorship import (
    apply_survivorship,
    apply_survivorship_many,
    pin,
    provenance_of,
    unpin,
)


class KeepsTheRecord:
    """No deleting from the admin: merges hold the snapshot an unmerge restores, history and
    decisions are the audit trail, review tasks record who decided what, and a golden id is
    never given up (merged-away records stay as tombstones), nor its cross-references.
    Stewards merge, unmerge and decide instead."""

    def has_delete_permission(self, request, obj=None):
        return False


def _attach_pair_records(rows, left: str, right: str) -> None:
    """The golden records two id columns of a list page name, in one query per entity, as
    `row.pair_records` (one query per row would cost a hundred queries a page)."""
    rows = list(rows)  # evaluated once; the template reuses the rows
    wanted: dict[str, set] = {}
    for row in rows:
        wanted.setdefault(row.entity, set()).update((getattr(row, left), getattr(row, right)))
    found = {}
    for entity, ids in wanted.items():
        found.update(golden_model(entity).objects.in_bulk(list(ids)))
    for row in rows:
        row.pair_records = (found.get(getattr(row, left)), found.get(getattr(row, right)))


class PairList:
    """A list of golden record pairs (review tasks, merges): the page's golden records read
    once (`pair_records`), and searched as the golden lists are, on either record of the pair:
    a name, company, email, town or postcode (a SKU or name for products), or a golden record's
    id. Merged-away records are found too."""

    pair_fields: tuple[str, str] = ("left_id", "right_id")
    listed_ids = 5000
    search_fields = ("=entity",)  # shows the search box; `get_search_results` does the search
    search_help_text = (
        "Name, company, email, town or postcode of either record (SKU or name for products), "
        "or a golden record id."
    )

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        left, right = self.pair_fields
        condition = Q()
        for entity in Entity.values:
            model = golden_model(entity)
            found, _ = self.admin_site._registry[model].get_search_results(
                request, model.objects.all(), search_term
            )
            # Listed once rather than scanned again for each side of the pair (1.8 -> 0.6 s at
            # 1,000,000 customers); a term matching more records stays a subquery.
            ids = list(found.values_list("pk", flat=True)[: self.listed_ids + 1])
            if len(ids) > self.listed_ids:
                ids = found.values("pk")
            either = Q(**{f"{left}__in": ids}) | Q(**{f"{right}__in": ids})
            condition |= Q(entity=entity) & either
        return queryset.filter(condition), False

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        _attach_pair_records(changelist.result_list, *self.pair_fields)
        return changelist

    def pair_records(self, obj) -> tuple:
        """(left, right) golden records of a row: read with its page, or now for one row."""
        if not hasattr(obj, "pair_records"):
            _attach_pair_records([obj], *self.pair_fields)
        return obj.pair_records


def _summary(record) -> str:
    """One line that tells a golden record apart in a list: its name, then place or SKU."""
    if isinstance(record, Product):
        return f"{record.name or '(no name)'} [{record.sku or 'no SKU'}]"
    place = ", ".join(
        part
        for part in (record.billing_line1, record.billing_city, record.billing_postcode)
        if part
    )
    return f"{record.label} · {place}" if place else record.label


def _name(record) -> str:
    """What a steward calls a golden record: a customer's label, a product's name."""
    return record.label if isinstance(record, Customer) else record.name or "(no name)"


def _golden_link(record) -> str:
    """A golden record's one-line summary, linked to its page."""
    if record is None:
        return "(deleted)"
    url = reverse(f"admin:mdm_{record._meta.model_name}_change", args=[record.pk])
    return format_html('<a href="{}">{}</a>', url, _summary(record))


def _log(request, obj, message: str) -> None:
    LogEntry.objects.log_actions(
        user_id=request.user.pk,
        queryset=[obj],
        action_flag=CHANGE,
        change_message=message,
        single_object=True,
    )


def _cell(value) -> str:
    """A value as a steward reads it: no "None", local dates, lists joined."""
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return date_format(local, "DATETIME_FORMAT")
    if isinstance(value, list | tuple):
        return "; ".join(str(item) for item in value)
    return value


RULE_LABELS = {**dict(SurvivorshipRuleKind.choices), "pinned": "Pinned by a steward"}


def _label(obj, name: str) -> str:
    """An attribute's name as the form shows it ("billing_line1" -> "Billing line1")."""
    try:
        return capfirst(obj._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name


def _table(headers, rows) -> str:
    head = format_html_join("", "<th>{}</th>", ((header,) for header in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((_cell(cell),) for cell in row)),) for row in rows),
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


class GoldenAdmin(KeepsTheRecord, admin.ModelAdmin):
    """Shared by golden customers and products."""

    show_full_result_count = False
    list_per_page = 50
    list_filter = ("status",)
    actions = ("merge_into_first", "recompute")
    change_form_template = "admin/mdm/golden_change_form.html"

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            path(
                "<path:object_id>/pin/",
                self.admin_site.admin_view(self.pin_view),
                name=f"{info[0]}_{info[1]}_pin",
            ),
            *super().get_urls(),
        ]

    def get_object(self, request, object_id, from_field=None):
        golden = super().get_object(request, object_id, from_field)
        if golden is not None:  # read by `provenance`, which is given the object alone
            golden.can_pin = golden.status == GoldenStatus.ACTIVE and self.has_change_permission(
                request, golden
            )
        return golden

    def change_view(self, request, object_id, form_url="", extra_context=None):
        info = self.model._meta.app_label, self.model._meta.model_name
        extra_context = {
            **(extra_context or {}),
            "pin_url": reverse(f"admin:{info[0]}_{info[1]}_pin", args=[object_id]),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def pin_view(self, request, object_id):
        """Pin or unpin one attribute's surviving value (POST from a Values button: its name
        is pin or unpin, its value the attribute)."""
        golden = get_object_or_404(self.model, pk=object_id)
        if request.method != "POST" or not self.has_change_permission(request, golden):
            raise PermissionDenied
        action = next((verb for verb in ("pin", "unpin") if request.POST.get(verb)), "")
        attribute = request.POST.get(action, "")
        if attribute not in self.model.ATTRIBUTES:
            self.message_user(request, "Unknown attribute or action.", messages.ERROR)
        else:
            (pin if action == "pin" else unpin)(golden, attribute, actor=request.user)
            _log(request, golden, f"{attribute} {action}ned")
            self.message_user(request, f"{_label(golden, attribute)} {action}ned.")
        info = self.model._meta.app_label, self.model._meta.model_name
        return redirect(f"admin:{info[0]}_{info[1]}_change", golden.pk)

    def get_readonly_fields(self, request, obj=None):
        names = [field.name for field in self.model._meta.fields if field.name != "pinned"]
        return [*names, "cross_references", "provenance", "history"]

    def get_fields(self, request, obj=None):
        # Each value is shown once, in the provenance table (with where it came from and its
        # pin button); the raw pins (for a corrected value) come after the record's state.
        attributes = set(self.model.ATTRIBUTES)
        fields = [
            name
            for name in super().get_fields(request, obj)
            if name != "pinned" and name not in attributes
        ]
        if self.has_change_permission(request, obj):
            fields.insert(fields.index("cross_references"), "pinned")
        return fields

    def get_form(self, request, obj=None, **kwargs):
        kwargs["help_texts"] = {
            "pinned": 'Values that win over every source, e.g. {"email": "ann@example.com"}. '
            "The Pin buttons below pin the surviving value with one click."
        }
        return super().get_form(request, obj, **kwargs)

    def has_add_permission(self, request):
        return False

    @admin.display(description="Cross-references")
    def cross_references(self, obj):
        records = obj.source_records().order_by("system", "external_id")
        return _table(
            ("system", "external id", "source modified", "received"),
            (
                (record.system, record.external_id, record.source_modified_at, record.updated_at)
                for record in records
            ),
        )

    @admin.display(description="Values")
    def provenance(self, obj):
        """Every surviving value once: the rule that chose it, its source, its pin button.
        Empty attributes share one line at the end."""
        attributes = provenance_of(obj)
        sources = SourceRecord.objects.in_bulk(
            {item["source_record_id"] for item in attributes.values() if item["source_record_id"]}
        )
        values = obj.values()
        can_pin = getattr(obj, "can_pin", False)
        rows, empty = [], []
        for name in obj.ATTRIBUTES:
            value, item = values[name], attributes.get(name, {})
            pinned = name in obj.pinned
            if value in (None, "", [], {}) and not pinned:
                empty.append(_label(obj, name))
                continue
            verb = "unpin" if pinned else "pin"
            button = (
                format_html(
                    '<button type="submit" form="mdm-pin-form" name="{}" value="{}">{}</button>',
                    verb,
                    name,
                    capfirst(verb),
                )
                if can_pin
                else ""
            )
            rule = "pinned" if pinned else item.get("rule", "")
            source = sources.get(item.get("source_record_id"), "-")
            rows.append((_label(obj, name), value, RULE_LABELS.get(rule, rule), source, button))
        if empty:
            rows.append(("Empty", ", ".join(empty), "", "", ""))
        headers = ("attribute", "value", "rule", "from", "")
        note = "A pinned value wins over every source until it is unpinned." if can_pin else ""
        return format_html(
            "{}{}", _table(headers, rows), format_html("<p>{}</p>", note) if note else ""
        )

    @admin.display(description="History")
    def history(self, obj):
        entries = HistoryEntry.objects.filter(entity=obj.ENTITY, golden_id=obj.id).select_related(
            "actor"
        )[:200]
        return _table(
            ("when", "what", "who", "why", "changes (before → after)"),
            (
                (
                    entry.created_at,
                    entry.get_action_display(),
                    entry.who,
                    entry.reason or (entry.related_golden_id or ""),
                    "; ".join(
                        f"{name}: {change[0]!r} → {change[1]!r}"
                        for name, change in entry.changes.items()
                        if isinstance(change, list) and len(change) == 2
                    ),
                )
                for entry in entries
            ),
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "pinned" in form.changed_data:
            apply_survivorship(obj, actor=request.user, reason="steward changed pinned values")

    @admin.action(
        description="Merge the selected records into the oldest one", permissions=["change"]
    )
    def merge_into_first(self, request, queryset):
        records = list(queryset.filter(status=GoldenStatus.ACTIVE).order_by("created_at"))
        if len(records) < 2:
            self.message_user(request, "Select at least two active records.", messages.WARNING)
            return
        survivor = records[0]
        for other in records[1:]:
            try:
                merge(survivor, other, actor=request.user, reason="merged by hand in the admin")
                _log(request, other, f"Merged into {survivor.id}")
            except MergeError as exc:
                self.message_user(request, f"{other}: {exc}", messages.ERROR)
        self.message_user(request, f"Merged {len(records) - 1} record(s) into {survivor}.")

    @admin.action(description="Recompute surviving values", permissions=["change"])
    def recompute(self, request, queryset):
        ids = list(queryset.filter(status=GoldenStatus.ACTIVE).values_list("pk", flat=True))
        changed = apply_survivorship_many(
            self.model, ids, actor=request.user, reason="recomputed in the admin"
        )
        self.message_user(
            request,
            f"Recomputed {len(ids)} record(s): {changed} changed, {len(ids) - changed} "
            "already had their surviving values.",
        )


@admin.register(Customer)
class CustomerAdmin(GoldenAdmin):
    list_display = ("__str__", "company_name", "first_name", "last_name", "email",
                    "billing_city", "billing_postcode", "status", "updated_at")  # fmt: skip
    list_filter = ("status", "billing_country")
    # Every word must match one of these: "oliver white" needs the given name searched too.
    search_fields = ("=id", "company_name", "first_name", "last_name", "email", "billing_city",
                     "billing_postcode")  # fmt: skip


@admin.register(Product)
class ProductAdmin(GoldenAdmin):
    list_display = ("__str__", "sku", "name", "unit_price", "currency", "active", "status")
    list_filter = ("status", "active", "currency")
    search_fields = ("=id", "sku", "name")


@admin.register(SourceRecord)
class SourceRecordAdmin(KeepsTheRecord, admin.ModelAdmin):
    list_display = ("__str__", "entity", "system", "external_id", "customer", "product",
                    "source_modified_at")  # fmt: skip
    list_filter = ("entity", "system")
    search_fields = ("external_id",)
    list_select_related = ("customer", "product")
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


class ReviewStateFilter(admin.SimpleListFilter):
    """The queue opens on the tasks still to decide; decided ones are a click away."""

    title = "status"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [*ReviewStatus.choices, ("all", "All")]

    def queryset(self, request, queryset):
        value = self.value() or ReviewStatus.OPEN
        return queryset if value == "all" else queryset.filter(status=value)

    def choices(self, changelist):
        current = self.value() or ReviewStatus.OPEN
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


@admin.register(ReviewTask)
class ReviewTaskAdmin(PairList, KeepsTheRecord, admin.ModelAdmin):
    list_display = ("pair", "chance", "decide", "strongest", "compare", "status", "created_at")
    list_filter = (ReviewStateFilter, "entity")
    show_full_result_count = False
    actions = ("approve_merge", "not_the_same")
    readonly_fields = ("entity", "status", "chance", "comparison", "evidence", "decided_by",
                       "decided_at", "decide")  # fmt: skip

    def has_add_permission(self, request):
        return False

    def get_list_display(self, request):
        if self.has_change_permission(request):
            return self.list_display
        return tuple(name for name in self.list_display if name != "decide")

    def get_fields(self, request, obj=None):
        if obj is not None and self.has_change_permission(request, obj):
            return self.readonly_fields
        return tuple(name for name in self.readonly_fields if name != "decide")

    @admin.display(description="Pair")
    def pair(self, obj):
        """Both golden records as a steward tells them apart: name and place, or name and SKU."""
        return format_html(
            "{}<br>~ {}",
            *(_summary(record) if record else "(deleted)" for record in self.pair_records(obj)),
        )

    @admin.display(description="Strongest evidence")
    def strongest(self, obj):
        """The fields that weigh most either way, with their agreement: what to check first."""
        fields = [
            item
            for item in obj.explanation.get("fields", [])
            if item.get("weight") and item.get("level") != "missing"
        ]
        fields.sort(key=lambda item: -abs(item["weight"]))
        if not fields:
            return "-"
        return format_html_join(
            mark_safe("<br>"),
            "{}: {} ({})",
            ((item["field"], item["level"], f"{item['weight']:+.1f}") for item in fields[:3]),
        )

    @admin.display(description="Probability", ordering="probability")
    def chance(self, obj):
        return f"{obj.probability:.4f}"

    @admin.display(description="Decide")
    def decide(self, obj):
        """Buttons that post the page's own form (and its CSRF token) to the decide view.

        `formaction` instead of a form of their own: the list and the change page are already
        inside a form, and browsers drop a form nested in another.
        """
        if obj.status != ReviewStatus.OPEN:
            return obj.get_status_display()
        url = reverse("admin:mdm_reviewtask_decide", args=[obj.pk])
        return format_html(
            '<button type="submit" formaction="{}" name="same" value="1">Merge</button> '
            '<button type="submit" formaction="{}" name="same" value="0">Not the same</button>',
            url,
            url,
        )

    @admin.display(description="Review")
    def compare(self, obj):
        return format_html(
            '<a href="{}">Compare</a>', reverse("admin:mdm_reviewtask_compare", args=[obj.pk])
        )

    @admin.display(description="Side by side")
    def comparison(self, obj):
        model = golden_model(obj.entity)
        left, right = (
            model.objects.filter(pk=obj.left_id).first(),
            model.objects.filter(pk=obj.right_id).first(),
        )
        if left is None or right is None:
            return "-"
        left_values, right_values = left.values(), right.values()
        rows = [
            ("golden id", left.id, right.id, ""),
            *(
                (
                    name,
                    left_values[name],
                    right_values[name],
                    "=" if left_values[name] == right_values[name] else "≠",
                )
                for name in model.ATTRIBUTES
                if left_values[name] not in ("", None, [], {})
                or right_values[name] not in ("", None, [], {})
            ),
        ]
        return _table(("attribute", "left", "right", ""), rows)

    @admin.display(description="Explanation")
    def evidence(self, obj):
        return _table(
            ("field", "agreement", "weight (bits)"),
            (
                (item["field"], item["level"], item.get("weight"))
                for item in obj.explanation.get("fields", [])
            ),
        )

    def get_urls(self):
        return [
            path(
                "<int:task_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="mdm_reviewtask_decide",
            ),
            path(
                "<int:task_id>/compare/",
                self.admin_site.admin_view(self.compare_view),
                name="mdm_reviewtask_compare",
            ),
            *super().get_urls(),
        ]

    def compare_view(self, request, task_id: int):
        """The review screen: both golden records side by side, sources, explanation, buttons."""
        task = get_object_or_404(ReviewTask, pk=task_id)
        if not self.has_view_or_change_permission(request, task):
            raise PermissionDenied
        context = comparison_context(task)
        model_name = golden_model(task.entity)._meta.model_name
        for side in ("left", "right"):
            if context[side] is not None:
                context[f"{side}_url"] = reverse(
                    f"admin:mdm_{model_name}_change", args=[context[side].pk]
                )
        names = [
            _name(context[side]) if context[side] is not None else "(deleted)"
            for side in ("left", "right")
        ]
        context.update(
            self.admin_site.each_context(request),
            opts=self.model._meta,
            title=f"Review: {names[0]} ~ {names[1]}",
            pair_name=f"{names[0]} ~ {names[1]}",
            can_decide=self.has_change_permission(request, task),
        )
        return TemplateResponse(request, "admin/mdm/review_compare.html", context)

    def decide_view(self, request, task_id: int):
        task = get_object_or_404(ReviewTask, pk=task_id)
        if request.method != "POST" or not self.has_change_permission(request, task):
            return redirect("admin:mdm_reviewtask_changelist")
        self._decide(request, [task], same=request.POST.get("same") == "1")
        if request.POST.get("next") == "compare":
            following = comparison_context(task)["next_task"]
            if following:
                return redirect("admin:mdm_reviewtask_compare", following)
        return redirect("admin:mdm_reviewtask_changelist")

    def _decide(self, request, tasks, *, same: bool) -> None:
        done = 0
        for task in tasks:
            try:
                decide_review(task, same=same, actor=request.user)
                _log(request, task, "approved merge" if same else "not the same")
                done += 1
            except MergeError as exc:
                self.message_user(request, f"{task}: {exc}", messages.WARNING)
        verb = "merged" if same else "marked not the same"
        self.message_user(
            request, f"{done} review task(s) {verb}.", messages.SUCCESS if done else messages.INFO
        )

    @admin.action(description="Approve merge", permissions=["change"])
    def approve_merge(self, request, queryset):
        self._decide(request, queryset.filter(status=ReviewStatus.OPEN), same=True)

    @admin.action(description="Not the same", permissions=["change"])
    def not_the_same(self, request, queryset):
        self._decide(request, queryset.filter(status=ReviewStatus.OPEN), same=False)


@admin.register(Merge)
class MergeAdmin(PairList, KeepsTheRecord, admin.ModelAdmin):
    list_display = ("records", "entity", "probability", "actor", "reason", "created_at",
                    "undone_at")  # fmt: skip
    list_filter = ("entity",)
    pair_fields = ("merged_id", "survivor_id")
    actions = ("undo",)
    show_full_result_count = False
    exclude = ("snapshot",)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields if field.name != "snapshot"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Merged -> survivor")
    def records(self, obj):
        """Both golden records by name and place, each linked: which record went into which."""
        merged, survivor = self.pair_records(obj)
        return format_html("{}<br>&rarr; {}", _golden_link(merged), _golden_link(survivor))

    @admin.action(description="Unmerge (restore both records exactly)", permissions=["change"])
    def undo(self, request, queryset):
        undone = 0
        for merge_row in queryset.filter(undone_at=None).order_by("-created_at"):
            try:
                unmerge(merge_row, actor=request.user, reason="unmerged in the admin")
                _log(request, merge_row, "Unmerged")
                undone += 1
            except MergeError as exc:
                self.message_user(request, f"{merge_row}: {exc}", messages.ERROR)
        skipped = queryset.count() - queryset.filter(undone_at=None).count() - undone
        note = f"; {skipped} already undone, left as they were" if skipped > 0 else ""
        self.message_user(request, f"Unmerged {undone} merge(s){note}.")


class ReadOnlyAdmin(KeepsTheRecord, admin.ModelAdmin):
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(HistoryEntry)
class HistoryEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "entity", "golden_id", "action", "actor", "reason")
    list_filter = ("entity", "action")
    search_fields = ("=golden_id",)
    list_select_related = ("actor",)


@admin.register(PairDecision)
class PairDecisionAdmin(ReadOnlyAdmin):
    list_display = ("entity", "left_id", "right_id", "decision", "decided_by", "created_at")
    list_filter = ("entity", "decision")


@admin.register(MatchSettings)
class MatchSettingsAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "auto_merge_threshold",
        "review_threshold",
        "keep_households_apart",
        "weights_estimated_at",
    )
    readonly_fields = ("weights_estimated_at", "weights_pairs", "priors", "level_weights")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "entity",
                    "auto_merge_threshold",
                    "review_threshold",
                    "calibrate_review_threshold",
                    "keep_households_apart",
                )
            },
        ),
        (
            "What the matching has learnt from the data",
            {"fields": ("weights_estimated_at", "weights_pairs", "priors", "level_weights")},
        ),
        ("Raw weights (JSON)", {"classes": ("collapse",), "fields": ("weights",)}),
    )

    @admin.display(description="Prior match probability")
    def priors(self, obj):
        """How likely two records are the same before comparing them, overall and by systems."""
        weights = weights_for(obj) if obj.entity else {}
        rows = [("any two records", weights.get("prior"))]
        if weights.get("prior_same_system"):
            shifts = system_shifts(weights)
            rows += [
                ("two records of one source system", weights["prior_same_system"]),
                ("two records of different systems", weights["prior_other_system"]),
            ]
            if shifts is None:
                rows.append(("(within 0.1 bits of each other: not applied)", None))
        return _table(
            ("pair", "probability"),
            ((label, f"{value:.3g}" if value else "\u00a0") for label, value in rows),
        )

    @admin.display(description="Weight of each level (bits; + for the same, - against)")
    def level_weights(self, obj):
        """Per field and level: m, u and log2(m/u), as the explanations of matches use them."""
        if not obj.entity:
            return "-"
        weights = weights_for(obj)
        rows = []
        for comparison in comparisons_for(obj.entity):
            params = field_params(weights, comparison)
            table = scoring_level_weights(params["m"], params["u"])
            for level, label in enumerate(comparison.levels):
                rows.append(
                    (
                        comparison.name.replace("_", " ") if level == 0 else "\u00a0",
                        label,
                        f"{params['m'][level]:.3g}",
                        f"{params['u'][level]:.3g}",
                        f"{table[level]:+.1f}",
                    )
                )
        return _table(("field", "level", "m (same)", "u (random pair)", "weight"), rows)


@admin.register(SurvivorshipRule)
class SurvivorshipRuleAdmin(admin.ModelAdmin):
    list_display = ("entity", "attribute", "rule", "source_trust", "half_life_days")
    list_filter = ("entity", "rule")
