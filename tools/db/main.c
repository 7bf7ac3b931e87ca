/* craft-db - operator tool for a host's CRAFT database.
 *
 *   craft-db check FILE    validate read-only; print version and row counts
 *   craft-db init FILE     create the schema, or migrate to this build's
 *   craft-db schema [N]    print the embedded migration SQL
 *
 * check never writes: it uses store_open_readonly(), which refuses foreign,
 * newer and corrupt files with the same rules and messages as the daemons.
 * Exit status: 0 ok, 1 refused or failed, 2 usage. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "version.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: craft-db [--help] [--version] COMMAND ...\n"
		"\n"
		"  check FILE    validate FILE read-only (not a CRAFT database, newer schema,\n"
		"                corruption: refused with a message, exit 1); print its\n"
		"                schema version and the rows in each table\n"
		"  init FILE     create FILE with the schema, or migrate an older CRAFT\n"
		"                database to this build's schema version\n"
		"  schema [N]    print the SQL of migration N (default: all), as built in\n"
		"\n"
		"Query a database with sqlite3 FILE; the views v_transactions,\n"
		"v_failover_history, v_open_connections, v_connections, v_latest_splices\n"
		"and v_counters_latest are meant for that.\n");
}

static int cmd_check(const char *path)
{
	char err[512] = "";
	sqlite3 *db = NULL;
	sqlite3_stmt *tables = NULL;
	int rc, version;

	rc = store_open_readonly(path, &db, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "craft-db: %s: %s\n", path, err);
		return 1;
	}
	version = store_schema_version(db);
	printf("%s: CRAFT database, schema version %d (this build: %d)%s, quick_check ok\n", path,
	       version, store_schema_latest(),
	       version < store_schema_latest() ? ", needs migration (craft-db init)" : "");
	rc = sqlite3_prepare_v2(db,
				"SELECT name FROM sqlite_schema WHERE type = 'table' "
				"AND name NOT LIKE 'sqlite_%' ORDER BY name",
				-1, &tables, NULL);
	while (rc == SQLITE_OK && sqlite3_step(tables) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(tables, 0);
		char *sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", name);
		sqlite3_stmt *count = NULL;

		if (sql && sqlite3_prepare_v2(db, sql, -1, &count, NULL) == SQLITE_OK &&
		    sqlite3_step(count) == SQLITE_ROW)
			printf("  %-20s %12lld\n", name, (long long)sqlite3_column_int64(count, 0));
		else
			rc = SQLITE_ERROR;
		sqlite3_finalize(count);
		sqlite3_free(sql);
	}
	if (rc != SQLITE_OK)
		fprintf(stderr, "craft-db: %s: counting rows: %s\n", path, sqlite3_errmsg(db));
	sqlite3_finalize(tables);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : 1;
}

static int cmd_init(const char *path)
{
	char err[512] = "";
	struct store *st = NULL;
	sqlite3 *db = NULL;
	int before = 0, rc;

	/* Only to say what happened; store_open does the real validation. */
	if (store_open_readonly(path, &db, NULL, 0) == 0) {
		before = store_schema_version(db);
		sqlite3_close(db);
	}
	rc = store_open(&st, path, NULL, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "craft-db: %s: %s\n", path, err);
		return 1;
	}
	if (store_close(st) < 0) {
		fprintf(stderr, "craft-db: %s: closing failed\n", path);
		return 1;
	}
	if (before == 0)
		printf("%s: created, schema version %d\n", path, store_schema_latest());
	else if (before < store_schema_latest())
		printf("%s: migrated from schema version %d to %d\n", path, before,
		       store_schema_latest());
	else
		printf("%s: already at schema version %d\n", path, before);
	return 0;
}

static int cmd_schema(const char *which)
{
	size_t n;
	const struct store_migration *list = store_schema_migrations(&n);
	long want = 0;

	if (which) {
		char *end;

		errno = 0;
		want = strtol(which, &end, 10);
		if (errno || *end || want < 1 || (size_t)want > n) {
			fprintf(stderr, "craft-db: no migration '%s' (this build has 1..%zu)\n",
				which, n);
			return 2;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (want == 0 || list[i].version == want)
			fputs(list[i].sql, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("craft-db %s (schema version %d, SQLite %s)\n", CRAFT_VERSION,
			       store_schema_latest(), sqlite3_libversion());
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 2 && strcmp(argv[0], "check") == 0)
		return cmd_check(argv[1]);
	if (argc == 2 && strcmp(argv[0], "init") == 0)
		return cmd_init(argv[1]);
	if ((argc == 1 || argc == 2) && strcmp(argv[0], "schema") == 0)
		return cmd_schema(argc == 2 ? argv[1] : NULL);
	usage(stderr);
	return 2;
}
