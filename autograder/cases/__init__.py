"""Hidden tests, one module per assignment: ``PARTS`` maps a test cell's grade id to its tests."""
