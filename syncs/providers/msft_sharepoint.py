"""Microsoft SharePoint Online, through Microsoft Graph (v1.0).

An Entra ID (Azure AD) app registration authenticates with the client credentials flow
(``https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token``, scope
``https://graph.microsoft.com/.default``; application permission ``Sites.Read.All`` or
``Sites.Selected``). The site is resolved from its URL (``GET /sites/{hostname}:/sites/{path}``);
document library items are read with the delta query (``/drives/{drive-id}/root/delta``,
``@odata.nextLink``/``@odata.deltaLink``), list items with ``/lists/{list-id}/items?expand=fields``.
``drive_items`` is the file metadata table, ``drive_item_contents`` the blobs in object
storage; each configured stream (files matching globs, parsed as tables) is a dynamic entity.
"""

from syncs.providers.base import ProviderSpec, ResourceSpec, register
from syncs.providers.schemas import (
    base_url,
    boolean,
    defaults_from,
    file_streams,
    http_url,
    obj,
    page_size,
    secret,
    start_date,
    string,
    string_list,
)

CONFIG_SCHEMA = obj({
    "tenant_id": string("Directory (tenant) id, or the tenant's domain (contoso.onmicrosoft.com).",
                        minLength=1),
    "site_url": http_url("URL of the SharePoint site, e.g. "
                         "https://contoso.sharepoint.com/sites/Finance."),
    "drive_name": string("Document library read.", minLength=1, default="Documents"),
    "folder_path": string("Folder of the library read (/ is the library root).",
                          pattern=r"^/", default="/"),
    "include_subfolders": boolean("Walk subfolders recursively.", default=True),
    "lists": string_list("Display names of the lists whose items are synced (default: every "
                         "non-hidden list)."),
    "streams": file_streams("/Reports/*.xlsx"),
    "base_url": base_url("https://graph.microsoft.com/v1.0"),
    "authority_url": http_url("Override of the identity platform host.",
                              default="https://login.microsoftonline.com"),
    "page_size": page_size(200, 999, "Items per Graph page ($top)."),
    "start_date": start_date("Only items modified at or after this instant on the first run; "
                             "null reads everything."),
}, required=["tenant_id", "site_url"], title="SharePoint connection", examples=[{
    "tenant_id": "00000000-0000-0000-0000-000000000000",
    "site_url": "https://contoso.sharepoint.com/sites/Finance",
    "folder_path": "/Shared/Exports",
}])

SECRETS_SCHEMA = obj({
    "client_id": secret("Application (client) id of the app registration."),
    "client_secret": secret("Client secret of the app registration."),
}, required=["client_id", "client_secret"], title="SharePoint secrets",
    examples=[{"client_id": "11111111-1111-1111-1111-111111111111",
               "client_secret": "example-secret"}])

RESOURCES = [
    ResourceSpec(entity_key="drives", display_name="Document libraries",
                 source_name="/sites/{site-id}/drives",
                 description="The site's document libraries (drives).",
                 primary_key=["id"], load_mode="replace", size_class="xs",
                 default_selected=False),
    ResourceSpec(entity_key="drive_items", display_name="Files",
                 source_name="/drives/{drive-id}/root/delta",
                 description="Files and folders of the library folder: id, name, path, size, "
                             "MIME type, eTag, createdDateTime, lastModifiedDateTime, webUrl; "
                             "deleted items are flagged.",
                 cursor_field="lastModifiedDateTime", primary_key=["id"], load_mode="upsert",
                 size_class="s"),
    ResourceSpec(entity_key="drive_item_contents", display_name="File contents",
                 source_name="/drives/{drive-id}/items/{item-id}/content",
                 description="The content of each file changed in the run.",
                 primary_key=["id"], load_mode="upsert", depends_on=["drive_items"],
                 size_class="l", storage_kind="object_storage",
                 storage_description="One blob per file in object storage, keyed by item id "
                                     "and replaced when the file changes.",
                 config_schema=obj({
                     "max_file_size_mb": {"type": "integer", "minimum": 1, "default": 512,
                                          "description": "Larger files are skipped."},
                 })),
    ResourceSpec(entity_key="lists", display_name="Lists", source_name="/sites/{site-id}/lists",
                 description="The site's lists: display name, template, columns.",
                 cursor_field="lastModifiedDateTime", primary_key=["id"], load_mode="upsert",
                 size_class="xs"),
    ResourceSpec(entity_key="list_items", display_name="List items",
                 source_name="/sites/{site-id}/lists/{list-id}/items?expand=fields",
                 description="Items of the selected lists with their column values (fields).",
                 cursor_field="lastModifiedDateTime", primary_key=["list_id", "id"],
                 load_mode="upsert", depends_on=["lists"], size_class="m"),
]

SPEC = register(ProviderSpec(
    key="msft_sharepoint",
    display_name="Microsoft SharePoint",
    description="Files and lists of a SharePoint Online site (Microsoft Graph).",
    config_schema=CONFIG_SCHEMA,
    secrets_schema=SECRETS_SCHEMA,
    defaults=defaults_from(CONFIG_SCHEMA),
    resources=RESOURCES,
    dynamic_resources=True,
))
