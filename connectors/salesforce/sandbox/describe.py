"""Metadata resources: API versions, the resource list, describeGlobal, describe and limits."""

from __future__ import annotations

from connectors.salesforce.sandbox.schema import (
    API_VERSION,
    SCHEMA,
    SOAP_TYPES,
    FieldSpec,
    FieldType,
    ObjectSpec,
)

VERSIONS = [
    ("Summer '23", "58.0"),
    ("Winter '24", "59.0"),
]
OLDEST_VERSION = 31.0
NEWEST_VERSION = float(API_VERSION)


def versions() -> list[dict]:
    return [
        {"label": label, "url": f"/services/data/v{number}", "version": number}
        for label, number in VERSIONS
    ]


def resources(version: str) -> dict:
    base = f"/services/data/v{version}"
    names = ["sobjects", "query", "queryAll", "limits", "composite", "jobs/ingest", "jobs/query"]
    return {name: f"{base}/{name}" for name in names}


def _urls(version: str, spec: ObjectSpec) -> dict:
    base = f"/services/data/v{version}/sobjects/{spec.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def object_summary(version: str, spec: ObjectSpec) -> dict:
    """An entry of describeGlobal (and the `objectDescribe` of GET /sobjects/<Obj>)."""
    return {
        "activateable": False,
        "createable": spec.createable,
        "custom": spec.custom,
        "customSetting": False,
        "deletable": True,
        "deprecatedAndHidden": False,
        "feedEnabled": False,
        "hasSubtypes": False,
        "isSubtype": False,
        "keyPrefix": spec.key_prefix,
        "label": spec.label,
        "labelPlural": spec.label_plural,
        "layoutable": True,
        "mergeable": spec.name in ("Account", "Contact"),
        "mruEnabled": True,
        "name": spec.name,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": True,
        "triggerable": True,
        "undeletable": True,
        "updateable": True,
        "urls": _urls(version, spec),
    }


def describe_global(version: str) -> dict:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [object_summary(version, spec) for spec in SCHEMA.values()],
    }


def _field(spec: ObjectSpec, field_spec: FieldSpec) -> dict:
    kind = field_spec.type
    compound = ""
    for prefix in ("Billing", "Shipping", "Mailing"):
        if field_spec.name.startswith(prefix) and kind != FieldType.ADDRESS:
            compound = f"{prefix}Address" if f"{prefix}Address" in spec.fields else ""
    numeric = kind in (FieldType.CURRENCY, FieldType.DOUBLE, FieldType.PERCENT)
    return {
        "name": field_spec.name,
        "label": field_spec.label,
        "type": kind.value,
        "soapType": SOAP_TYPES.get(kind, "xsd:string"),
        "length": field_spec.length,
        "byteLength": field_spec.length * 3,
        "precision": 18 if numeric else 0,
        "scale": 2 if numeric else 0,
        "digits": 9 if kind == FieldType.INT else 0,
        "custom": field_spec.custom,
        "externalId": field_spec.external_id,
        "unique": field_spec.unique,
        "idLookup": field_spec.name == "Id" or field_spec.external_id,
        "nillable": field_spec.nillable,
        "createable": field_spec.createable,
        "updateable": field_spec.updateable,
        "defaultedOnCreate": field_spec.default is not None
        or field_spec.name in ("Id", "IsDeleted", "CreatedDate", "SystemModstamp"),
        "defaultValue": field_spec.default,
        "calculated": False,
        "autoNumber": spec.name == "Payment__c" and field_spec.name == "Name",
        "caseSensitive": False,
        "filterable": kind != FieldType.TEXTAREA,
        "sortable": kind not in (FieldType.TEXTAREA, FieldType.ADDRESS),
        "groupable": kind not in (FieldType.TEXTAREA, FieldType.ADDRESS, FieldType.DATETIME),
        "nameField": field_spec.name == "Name",
        "compoundFieldName": compound or None,
        "referenceTo": [field_spec.reference_to] if field_spec.reference_to else [],
        "relationshipName": field_spec.relationship_name or None,
        "picklistValues": [
            {
                "active": True,
                "defaultValue": False,
                "label": value,
                "validFor": None,
                "value": value,
            }
            for value in field_spec.picklist
        ],
        "restrictedPicklist": spec.name == "Opportunity" and field_spec.name == "StageName",
        "inlineHelpText": None,
    }


def describe(version: str, spec: ObjectSpec) -> dict:
    summary = object_summary(version, spec)
    return {
        **summary,
        "fields": [_field(spec, field_spec) for field_spec in spec.fields.values()],
        "childRelationships": [
            {
                "cascadeDelete": True,
                "childSObject": child,
                "field": reference,
                "relationshipName": relationship,
                "deprecatedAndHidden": False,
                "restrictedDelete": False,
            }
            for relationship, (child, reference) in spec.child_relationships.items()
        ],
        "recordTypeInfos": [],
        "supportedScopes": [{"label": "All " + spec.label_plural.lower(), "name": "everything"}],
        "urls": {
            **summary["urls"],
            "compactLayouts": f"{summary['urls']['describe']}/compactLayouts",
        },
    }


def limits(used: int, maximum: int) -> dict:
    def pair(limit: int, remaining: int) -> dict:
        return {"Max": limit, "Remaining": remaining}

    return {
        "ConcurrentAsyncGetReportInstances": pair(200, 200),
        "DailyApiRequests": pair(maximum, max(maximum - used, 0)),
        "DailyAsyncApexExecutions": pair(250000, 250000),
        "DailyBulkApiBatches": pair(15000, 15000),
        "DailyBulkV2QueryFileStorageMB": pair(976562, 976562),
        "DailyBulkV2QueryJobs": pair(10000, 10000),
        "DailyDeliveredPlatformEvents": pair(50000, 50000),
        "DataStorageMB": pair(5, 5),
        "FileStorageMB": pair(20, 20),
        "HourlyPublishedPlatformEvents": pair(250000, 250000),
        "MonthlyPlatformEventsUsageEntitlement": pair(0, 0),
    }
