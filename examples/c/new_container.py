"""Creates an Azurite container for the C tests (the C ABI cannot).

    new_container.py ENDPOINT ACCOUNT KEY NAME

Names are fresh per run, so "already exists" can only be this script's own
request: the SDK sends it again when Azurite answers slowly under load, and
the retry finds the container the first attempt made.
"""
import sys

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient

endpoint, account, key, name = sys.argv[1:5]
client = BlobServiceClient(endpoint, credential={"account_name": account, "account_key": key})
try:
    client.create_container(name)
except ResourceExistsError:
    pass
