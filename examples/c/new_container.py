"""Creates an Azurite container for the C tests (the C ABI cannot).

    new_container.py ENDPOINT ACCOUNT KEY NAME [CA_BUNDLE]

With CA_BUNDLE (the HTTPS Azurite, which checks x-ms-version) the request
trusts that CA and asks for blobio's pinned API version, which Azurite
accepts (the SDK's own is newer).

Names are fresh per run, so "already exists" can only be this script's own
request: the SDK sends it again when Azurite answers slowly under load, and
the retry finds the container the first attempt made.
"""
import sys

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient

endpoint, account, key, name = sys.argv[1:5]
extra = {"api_version": "2025-11-05", "connection_verify": sys.argv[5]} if len(sys.argv) > 5 else {}
client = BlobServiceClient(endpoint, credential={"account_name": account, "account_key": key}, **extra)
try:
    client.create_container(name)
except ResourceExistsError:
    pass
