"""The worklist (SPEC 5.1): views, and the services that find what waits."""
