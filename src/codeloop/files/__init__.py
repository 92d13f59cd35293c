"""The Files API's storage: stored files, resumable uploads in progress, and their expiry."""

from codeloop.files.store import FileStore, StoredFile
from codeloop.files.uploads import Upload, UploadStore

__all__ = ["FileStore", "StoredFile", "Upload", "UploadStore"]
