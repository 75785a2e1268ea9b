"""Admin for connections: secrets are write-only, the page only says which ones are set."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path

from connectors.errors import ConcordError
from connectors.field_mapping import DEFAULT_TEMPLATES, mapped_value, read_path
from connectors.models import (
    SECRET_FIELDS,
    Connection,
    ConnectionState,
    FieldMapping,
    MappedEntity,
)
from connectors.resilience import CircuitBreaker


class NeverEchoedTextarea(forms.Textarea):
    """A textarea that renders empty even when the form comes back with an error."""

    def format_value(self, value):
        return ""


def _secret_field(name: str, label: str) -> forms.CharField:
    if name == "private_key":
        widget = NeverEchoedTextarea(attrs={"rows": 3, "autocomplete": "off"})
    else:
        widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
    return forms.CharField(label=label, required=False, strip=name != "private_key", widget=widget)


class BaseConnectionForm(forms.ModelForm):
    base_url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        help_text=Connection._meta.get_field("base_url").help_text,
    )
    clear_secrets = forms.MultipleChoiceField(
        choices=list(SECRET_FIELDS.items()),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick a stored secret to remove it.",
    )

    class Meta:
        model = Connection
        fields = ["name", "kind", "base_url", "enabled", "username", "client_id", "options"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = set(self.instance.secret_names()) if self.instance.pk else set()
        for name in SECRET_FIELDS:
            self.fields[name].help_text = (
                "Stored. Leave blank to keep it; it is never shown again."
                if name in stored
                else "Not set."
            )

    def save(self, commit: bool = True):
        connection = super().save(commit=False)
        for name in self.cleaned_data.get("clear_secrets") or []:
            connection.set_secret(name, "")
        for name in SECRET_FIELDS:
            if self.cleaned_data.get(name):
                connection.set_secret(name, self.cleaned_data[name])
        if commit:
            connection.save()
        return connection


# The secret fields are declared (not added in __init__) so the admin's fieldsets may name them.
ConnectionForm = type(
    "ConnectionForm",
    (BaseConnectionForm,),
    {name: _secret_field(name, label) for name, label in SECRET_FIELDS.items()},
)


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    extra = 0
    fields = ["entity", "source_path", "target_attribute", "transforms", "enabled", "position"]


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    inlines = [FieldMappingInline]
    change_form_template = "admin/connectors/connection/change_form.html"
    list_display = ["name", "kind", "base_url", "enabled", "stored_secrets", "updated_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "base_url"]
    readonly_fields = ["stored_secrets", "created_at", "updated_at"]
    actions = ["test_connection", "add_default_field_mappings"]

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": ["name", "kind", "base_url", "enabled"]}),
            ("Credentials", {"fields": ["username", "client_id", *SECRET_FIELDS, "clear_secrets"]}),
            ("Options", {"fields": ["options"]}),
            ("Status", {"fields": ["stored_secrets", "created_at", "updated_at"]}),
        ]

    @admin.action(description="Test connection (authenticate, read one record)")
    def test_connection(self, request, queryset):
        from connectors.base import connector_for  # its HTTP stack: only when asked for

        for connection in queryset:
            result = connector_for(connection).check()
            level = messages.SUCCESS if result.ok else messages.ERROR
            self.message_user(request, f"{connection.name}: {result.summary()}", level)

    @admin.action(
        description="Add the default field mappings for the system", permissions=["change"]
    )
    def add_default_field_mappings(self, request, queryset):
        added = 0
        for connection in queryset:
            for entity, rows in DEFAULT_TEMPLATES.get(connection.kind, {}).items():
                for position, (source_path, target, steps) in enumerate(rows):
                    _, created = FieldMapping.objects.get_or_create(
                        connection=connection,
                        entity=entity,
                        target_attribute=target,
                        defaults={
                            "source_path": source_path,
                            "transforms": steps,
                            "position": position,
                        },
                    )
                    added += created
            self.log_change(request, connection, "Added the default field mappings")
        self.message_user(request, f"Added {added} field mapping(s).")

    def get_urls(self):
        urls = super().get_urls()
        preview = path(
            "<int:object_id>/preview-mappings/",
            self.admin_site.admin_view(self.preview_mappings_view),
            name="connectors_connection_preview_mappings",
        )
        return [preview, *urls]

    def preview_mappings_view(self, request, object_id: int):
        """Run one live record per entity through the connection's field mappings."""
        connection = get_object_or_404(Connection, pk=object_id)
        if not self.has_view_permission(request, connection):
            raise PermissionDenied
        from connectors.base import connector_for

        sections = []
        connector = connector_for(connection)
        for entity in MappedEntity.values:
            mappings = list(connection.field_mappings.filter(entity=entity))
            if not mappings:
                continue
            section = {"entity": entity, "rows": [], "error": "", "sample_id": ""}
            try:
                payload = connector.sample_payload(entity)
            except (ConcordError, NotImplementedError) as exc:
                section["error"] = str(exc) or "this connector cannot fetch a sample yet"
                sections.append(section)
                continue
            section["sample_id"] = payload.get("_sample_id", "") if payload else ""
            for mapping in mappings:
                row = {"mapping": mapping, "raw": None, "value": None, "error": ""}
                try:
                    row["raw"] = read_path(payload or {}, mapping.source_path)
                    row["value"] = mapped_value(mapping, payload or {})
                except (ValueError, TypeError) as exc:
                    row["error"] = str(exc)
                section["rows"].append(row)
            sections.append(section)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": connection,
            "title": f"Field mapping preview: {connection.name}",
            "sections": sections,
        }
        return TemplateResponse(
            request, "admin/connectors/connection/preview_mappings.html", context
        )

    @admin.display(description="Secrets set")
    def stored_secrets(self, obj: Connection) -> str:
        return ", ".join(SECRET_FIELDS[name] for name in obj.secret_names()) or "none"


@admin.register(ConnectionState)
class ConnectionStateAdmin(admin.ModelAdmin):
    """Read-only view of each connection's breaker, failures and remaining API allowance."""

    list_display = [
        "key",
        "breaker_state",
        "consecutive_failures",
        "last_failure_at",
        "last_success_at",
        "allowance",
    ]
    list_filter = ["breaker_state"]
    search_fields = ["key", "last_error"]
    actions = ["close_breaker"]
    exclude = ["tokens", "tokens_updated_at"]

    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in ConnectionState._meta.fields]

    @admin.display(description="API allowance used")
    def allowance(self, obj: ConnectionState) -> str:
        if not obj.api_limit:
            return "-"
        return f"{obj.api_used} / {obj.api_limit}"

    @admin.action(
        description="Close the circuit breaker (let calls through again)", permissions=["change"]
    )
    def close_breaker(self, request, queryset):
        for state in queryset:
            CircuitBreaker(state.key).record_success()
            self.log_change(request, state, "Closed the circuit breaker by hand")
        self.message_user(request, f"Closed the breaker of {queryset.count()} connection(s).")
