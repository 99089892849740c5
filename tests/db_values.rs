//! Values read from the real databases (the running MariaDB and PostgreSQL,
//! and SQLite files) come back as contract values without loss: unsigned
//! max, DECIMAL/NUMERIC beyond 28 digits with their scale, zero dates, BC
//! dates and infinities, signed TIME past 24 h, binary, JSON, NULL. Each test
//! works in its own database, schema or file, so they run in parallel.

use movex::db;
use movex_tests::dbs;
use movex_guest::{Date, OwnedValue as V, Time, Timestamp};
use sqlx::Connection;

fn ts(year: i32, month: u8, day: u8, micros_of_day: u64) -> V {
    V::Timestamp(Timestamp { date: Date { year, month, day }, micros_of_day })
}

fn date(year: i32, month: u8, day: u8) -> V {
    V::Date(Date { year, month, day })
}

const SECS_838: i64 = (838 * 3600 + 59 * 60 + 59) * 1_000_000;

#[tokio::test]
async fn mariadb_values_round_trip_without_loss() {
    // Dropped when the test passes.
    let guard = dbs::mariadb(&dbs::unique("values"), "").await;
    let schema = guard.name();
    let mut c = sqlx::MySqlConnection::connect(&guard).await.unwrap();
    // Zero dates are refused under the default strict mode; migrations meet
    // them in old data, so they must read back as stored.
    sqlx::raw_sql(
        "SET SESSION sql_mode = '';
         CREATE TABLE v (
            id INT PRIMARY KEY, u BIGINT UNSIGNED, i BIGINT, t TINYINT(1), m MEDIUMINT,
            d DECIMAL(65,30), f FLOAT, dbl DOUBLE, dt DATE, dtm DATETIME(6), tm TIME(6),
            txt VARCHAR(100), bin VARBINARY(16), blb BLOB, j JSON, b8 BIT(8), nul INT NULL);
         INSERT INTO v VALUES
           (1, 18446744073709551615, -9223372036854775808, -5, -8388608,
            '-12345678901234567890123456789012345.123456789012345678901234567890', 1.5, 0.1,
            '0000-00-00', '0000-00-00 00:00:00', '-838:59:59', 'zwölf', 0x00FF10, 0x000102,
            '{\"b\": [1, 2], \"a\": 1}', b'10100101', NULL),
           (2, 0, 0, 1, 0, '0.500000000000000000000000000000', -0.25, 1e300,
            '2024-00-10', '2024-02-29 23:59:59.999999', '838:59:59.999999', '', '', '',
            '[]', b'0', NULL);",
    )
    .execute(&mut c)
    .await
    .unwrap();

    let binary = db::mysql::binary_columns(&mut c, schema, "v").await.unwrap();
    let mut bin_cols: Vec<_> = binary.iter().cloned().collect();
    bin_cols.sort();
    assert_eq!(bin_cols, ["bin", "blb"], "from information_schema");

    let rows = sqlx::query("SELECT * FROM v ORDER BY id").fetch_all(&mut c).await.unwrap();
    let read: Vec<Vec<V>> = rows
        .iter()
        .map(|r| {
            (0..17)
                .map(|i| {
                    use sqlx::{Column, Row};
                    db::mysql::value(r, i, binary.contains(r.columns()[i].name())).unwrap()
                })
                .collect()
        })
        .collect();
    let want = vec![
        vec![
            V::Int(1),
            V::Uint(u64::MAX),
            V::Int(i64::MIN),
            V::Int(-5),
            V::Int(-8_388_608),
            V::Decimal("-12345678901234567890123456789012345.123456789012345678901234567890".into()),
            V::Float(1.5),
            V::Float(0.1),
            date(0, 0, 0),
            ts(0, 0, 0, 0),
            V::Time(Time { micros: -SECS_838 }),
            V::Text("zwölf".into()),
            V::Bytes(vec![0x00, 0xff, 0x10]),
            V::Bytes(vec![0, 1, 2]),
            V::Text(r#"{"b": [1, 2], "a": 1}"#.into()),
            V::Uint(0b1010_0101),
            V::Null,
        ],
        vec![
            V::Int(2),
            V::Uint(0),
            V::Int(0),
            V::Int(1),
            V::Int(0),
            V::Decimal("0.500000000000000000000000000000".into()),
            V::Float(-0.25),
            V::Float(1e300),
            date(2024, 0, 10),
            ts(2024, 2, 29, 86_399_999_999),
            V::Time(Time { micros: SECS_838 + 999_999 }),
            V::Text(String::new()),
            V::Bytes(vec![]),
            V::Bytes(vec![]),
            V::Text("[]".into()),
            V::Uint(0),
            V::Null,
        ],
    ];
    assert_eq!(read, want);
}

#[tokio::test]
async fn postgres_values_round_trip_without_loss() {
    // Dropped when the test passes.
    let guard = dbs::postgres_schema(&dbs::unique("values")).await;
    let schema = guard.name();
    let mut c = sqlx::PgConnection::connect(&guard).await.unwrap();
    sqlx::raw_sql(&format!(
        "CREATE TABLE {schema}.v (
            id int4, b bool, i2 int2, i8 int8, f4 real, f8 double precision,
            n numeric, n2 numeric(10,2), nn numeric, t text, bp char(4), by bytea,
            d date, dinf date, tm time, ts timestamp, tstz timestamptz, tsinf timestamp,
            j json, jb jsonb, u uuid, nul int4, small numeric);
         INSERT INTO {schema}.v VALUES (
            1, true, -32768, 9223372036854775807, 1.5, -0.1,
            '-123456789012345678901234567890.000000000000000000001', 1.5, 'NaN', 'zwölf', 'ab', '\\x00ff',
            '4713-01-01 BC', 'infinity', '23:59:59.999999', '2000-01-01 00:00:00',
            '1999-12-31 23:59:59.5+00', '-infinity',
            '{{\"b\": 1, \"a\": 2}}', '{{\"b\": 1, \"a\": 2}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', NULL,
            '0.000012300')"
    ))
    .execute(&mut c)
    .await
    .unwrap();

    // Read as every reader of rows reads them: through the read path.
    let db = db::Db::connect(&guard, "source", 1).await.unwrap();
    let read = db.fetch(&format!("SELECT * FROM {schema}.v"), &[], db::Decode::ByType).await.unwrap().remove(0);
    let want = vec![
        V::Int(1),
        V::Bool(true),
        V::Int(-32768),
        V::Int(i64::MAX),
        V::Float(1.5),
        V::Float(-0.1),
        V::Decimal("-123456789012345678901234567890.000000000000000000001".into()),
        V::Decimal("1.50".into()),
        V::Decimal("NaN".into()),
        V::Text("zwölf".into()),
        V::Text("ab  ".into()),
        V::Bytes(vec![0x00, 0xff]),
        date(-4712, 1, 1),
        V::Date(Date::INFINITY),
        V::Time(Time { micros: 86_399_999_999 }),
        ts(2000, 1, 1, 0),
        ts(1999, 12, 31, 86_399_500_000),
        V::Timestamp(Timestamp { date: Date::NEG_INFINITY, micros_of_day: 0 }),
        V::Json(r#"{"b": 1, "a": 2}"#.into()),
        V::Json(r#"{"a": 2, "b": 1}"#.into()),
        V::Text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into()),
        V::Null,
        V::Decimal("0.000012300".into()),
    ];
    assert_eq!(read, want);

    // A type with no contract kind is an error that says what to do.
    let err = db.fetch("SELECT interval '1 day' AS gap", &[], db::Decode::ByType).await.unwrap_err();
    assert!(err.to_string().contains("gap") && err.to_string().contains("::text"), "{err}");
}

#[tokio::test]
async fn sqlite_values_are_read_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("values.db").display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE v (a, b, c, d, e, f);
         INSERT INTO v VALUES (-9223372036854775808, 0.1, 'zwölf', X'00FF', NULL, CAST(X'FF' AS TEXT));",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let row = sqlx::query("SELECT * FROM v").fetch_one(&mut c).await.unwrap();
    let read: Vec<V> = (0..6).map(|i| db::sqlite::value(&row, i).unwrap()).collect();
    assert_eq!(
        read,
        vec![
            V::Int(i64::MIN),
            V::Float(0.1),
            V::Text("zwölf".into()),
            V::Bytes(vec![0, 255]),
            V::Null,
            V::Bytes(vec![255]), // text that is not UTF-8 is kept as bytes
        ]
    );
}
