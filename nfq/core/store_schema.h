/* store_schema - recognising, validating and migrating a CRAFT database.
 *
 * A CRAFT database carries PRAGMA application_id = STORE_APPLICATION_ID and
 * PRAGMA user_version = the number of the last migration applied. The
 * migrations are the files schema/NNN_name.sql, embedded in store_schema.c
 * as string constants (a unit test checks that both texts are identical).
 *
 * Classification of an existing file, done without writing anything:
 *   - not starting with the SQLite header, or shorter than one -> foreign
 *   - application_id 0, user_version 0, no schema objects          -> fresh
 *   - application_id not ours (or 0 with objects: another program) -> foreign
 *   - user_version newer than the newest migration we know          -> newer
 *   - SQLITE_NOTADB / SQLITE_CORRUPT / PRAGMA quick_check != ok     -> corrupt
 *   - otherwise                                                     -> ours
 * Return codes: 0, -EMEDIUMTYPE (foreign), -EPROTONOSUPPORT (newer),
 * -EUCLEAN (corrupt), -EIO (any other SQLite failure), -errno (stat/read). */
#ifndef CRAFT_STORE_SCHEMA_H
#define CRAFT_STORE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

/* "CRFT": lets `file` and our own tools tell our databases from others. */
#define STORE_APPLICATION_ID 0x43524654

struct store_migration {
	int version;	  /* 1, 2, ... consecutive */
	const char *name; /* file name without .sql: "001_initial" */
	const char *sql;  /* the file's exact text */
};

/* The built-in migrations, oldest first. */
const struct store_migration *store_schema_migrations(size_t *count);
/* The version a database has after every built-in migration. */
int store_schema_latest(void);

/* Looks at the file's first bytes only: 0 when it starts with the SQLite
 * header, -ENOENT when it does not exist or is empty (a new database),
 * -EMEDIUMTYPE when it is something else, -errno when it cannot be read. */
int store_schema_header_check(const char *path, char *err, size_t errlen);

/* Classifies the database open on db against a migration list whose last
 * entry is version `latest`. Reads only. *version is the user_version (0 for
 * a fresh database). quick_check runs PRAGMA quick_check on our databases. */
int store_schema_inspect(sqlite3 *db, int latest, bool quick_check, int *version, char *err,
			 size_t errlen);

/* Brings db forward to the last migration of list (n entries, consecutive
 * versions from 1) in one IMMEDIATE transaction: re-inspects, applies every
 * migration newer than the stored version, records each in schema_history,
 * sets application_id and user_version, commits. Nothing changes on error.
 * *from (may be NULL) receives the version found. */
int store_schema_migrate(sqlite3 *db, const struct store_migration *list, size_t n, int *from,
			 char *err, size_t errlen);

/* PRAGMA user_version, or -EIO. */
int store_schema_version(sqlite3 *db);

/* snprintf into err when err is non-NULL and errlen > 0. */
void store_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
