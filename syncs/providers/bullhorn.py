"""Bullhorn: the ATS/CRM REST API (Bullhorn for staffing).

Login: ``loginInfo?username=`` gives the data center's OAuth and REST URLs; an OAuth 2 code
(``/oauth/authorize`` with the API user's credentials) or a refresh token is exchanged at
``/oauth/token`` (refresh tokens are single-use: each refresh returns the next one, which the
connector must store), then ``/rest-services/login`` returns the ``BhRestToken`` and the
session's ``restUrl``. Entities are read with ``search/{Entity}`` (Lucene,
``dateLastModified:[from TO to]``) or ``query/{Entity}`` (``where=dateLastModified>=...``),
``fields=``, ``count`` up to 500 and ``start`` offsets, ordered by ``dateLastModified``
(epoch milliseconds). Entity names are Bullhorn's (``JobOrder``, ``ClientCorporation``).
"""

from syncs.providers.base import ProviderSpec, ResourceSpec, cursor_window, register
from syncs.providers.schemas import (
    base_url,
    defaults_from,
    http_url,
    obj,
    page_size,
    secret,
    start_date,
    string,
    string_list,
)

CONFIG_SCHEMA = obj({
    "username": string("Username of the Bullhorn API user.", minLength=1),
    "login_info_url": http_url("loginInfo endpoint resolving the data center's URLs.",
                               default="https://rest.bullhornstaffing.com/rest-services/"
                                       "loginInfo"),
    "auth_url": http_url("Override of the OAuth host (e.g. https://auth-east.bullhornstaffing"
                         ".com); default: from loginInfo."),
    "base_url": base_url("the session's restUrl, e.g. https://rest-east.bullhornstaffing.com/"
                         "rest-services/{corpToken}/"),
    "page_size": page_size(500, 500, "count of search/query requests."),
    "start_date": start_date(),
}, required=["username"], title="Bullhorn connection",
    examples=[{"username": "acme.api"}])

SECRETS_SCHEMA = obj({
    "client_id": secret("OAuth client id issued by Bullhorn."),
    "client_secret": secret("OAuth client secret."),
    "password": secret("Password of the API user (to obtain authorization codes)."),
    "refresh_token": secret("Current refresh token (rotated on every use)."),
}, required=["client_id", "client_secret"], title="Bullhorn secrets",
    **{"if": {"required": ["refresh_token"]}, "else": {"required": ["password"]}},
    examples=[{"client_id": "example-client", "client_secret": "example-secret",
               "password": "example-password"}])

ENTITY_CONFIG = obj({
    "fields": string_list("Fields requested (default: every non-association field)."),
})

ENTITIES = [
    # entity_key, Bullhorn entity, display name, description, size, selected by default
    ("candidate", "Candidate", "Candidates", "Candidates: name, contact details, status, "
     "owner, source, skills, address.", "l", True),
    ("client_corporation", "ClientCorporation", "Client companies",
     "Client companies: name, status, industry, address, owners.", "s", True),
    ("client_contact", "ClientContact", "Client contacts",
     "Contacts at client companies.", "m", True),
    ("job_order", "JobOrder", "Job orders", "Jobs: title, client, status, openings, "
     "employment type, pay and bill rates, owner.", "m", True),
    ("job_submission", "JobSubmission", "Submissions",
     "Candidates submitted to jobs, with status and source.", "l", True),
    ("placement", "Placement", "Placements", "Placements: candidate, job, start and end "
     "dates, pay and bill rates, status.", "m", True),
    ("appointment", "Appointment", "Appointments", "Interviews and meetings.", "m", False),
    ("note", "Note", "Notes", "Notes and activity comments on candidates, contacts and jobs.",
     "xl", False),
    ("task", "Task", "Tasks", "Tasks assigned to users.", "m", False),
]

RESOURCES = [
    ResourceSpec(entity_key=key, display_name=display, source_name=entity,
                 description=f"{description} Entity {entity}.",
                 cursor_field="dateLastModified", primary_key=["id"], load_mode="upsert",
                 size_class=size, default_selected=default,
                 slicing=cursor_window("dateLastModified", "P30D", "epoch_ms"),
                 config_schema=ENTITY_CONFIG)
    for key, entity, display, description, size, default in ENTITIES
] + [
    ResourceSpec(entity_key="corporate_user", display_name="Users", source_name="CorporateUser",
                 description="Bullhorn users (recruiters, account managers): name, email, "
                             "department, enabled flag. Entity CorporateUser.",
                 primary_key=["id"], load_mode="replace", size_class="xs",
                 config_schema=ENTITY_CONFIG),
]

SPEC = register(ProviderSpec(
    key="bullhorn",
    display_name="Bullhorn",
    description="Candidates, jobs, submissions, placements and client records of a Bullhorn "
                "ATS.",
    config_schema=CONFIG_SCHEMA,
    secrets_schema=SECRETS_SCHEMA,
    defaults=defaults_from(CONFIG_SCHEMA),
    resources=RESOURCES,
))
