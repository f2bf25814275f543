//! The storage contract on PostgreSQL, each check in a schema of its own, and what only
//! several relays on one database can show.

use super::*;
use crate::storage::contract::Backend;
use crate::testing::postgres::TestSchema;

/// A fresh schema; reopening connects to the same one.
struct TempPg {
    schema: TestSchema,
}

impl TempPg {
    fn new() -> Self {
        TempPg {
            schema: TestSchema::new(),
        }
    }
}

/// Small pools: the suite runs two checks at once per core.
const TEST_POOL: PgOptions = PgOptions { pool_size: 4 };

impl Backend for TempPg {
    type Storage = PgStorage;

    async fn open(&mut self) -> PgStorage {
        PgStorage::connect(self.schema.config(), TEST_POOL)
            .await
            .unwrap()
    }

    async fn reopen(&mut self, storage: PgStorage) -> PgStorage {
        storage.close().await.unwrap();
        drop(storage);
        self.open().await
    }
}

// Every check of the storage contract, one test each.
crate::storage_contract_tests!(TempPg::new());
