-- Plan: Redshift, migrate:latest then etl (nothing was sent)

-- ===== migrate:latest =====

select "a"."attname" as "column", "a"."attnotnull" as "not_null", "a"."atthasdef" as "has_default", "c"."relname" as "table", "c"."relkind" as "table_type", "ns"."nspname" as "schema", "typ"."typname" as "type", "dtns"."nspname" as "type_schema", pg_get_expr(d.adbin, d.adrelid) like '%identity%' as "auto_incrementing" from "pg_catalog"."pg_attribute" as "a" inner join "pg_catalog"."pg_class" as "c" on "a"."attrelid" = "c"."oid" inner join "pg_catalog"."pg_namespace" as "ns" on "c"."relnamespace" = "ns"."oid" inner join "pg_catalog"."pg_type" as "typ" on "a"."atttypid" = "typ"."oid" inner join "pg_catalog"."pg_namespace" as "dtns" on "typ"."typnamespace" = "dtns"."oid" left join "pg_catalog"."pg_attrdef" as "d" on "d"."adrelid" = "a"."attrelid" and "d"."adnum" = "a"."attnum" where "c"."relkind" in ($1, $2) and "ns"."nspname" !~ $3 and "ns"."nspname" != $4 and has_schema_privilege(ns.nspname, 'USAGE') and "a"."attnum" >= $5 and "a"."attisdropped" != $6 order by "ns"."nspname", "c"."relname", "a"."attnum";
-- parameters: $1 = "r", $2 = "v", $3 = "^pg_", $4 = "information_schema", $5 = 0, $6 = true

create table if not exists "kysely_migration" ("name" varchar(255) not null primary key, "timestamp" varchar(255) not null);

select "a"."attname" as "column", "a"."attnotnull" as "not_null", "a"."atthasdef" as "has_default", "c"."relname" as "table", "c"."relkind" as "table_type", "ns"."nspname" as "schema", "typ"."typname" as "type", "dtns"."nspname" as "type_schema", pg_get_expr(d.adbin, d.adrelid) like '%identity%' as "auto_incrementing" from "pg_catalog"."pg_attribute" as "a" inner join "pg_catalog"."pg_class" as "c" on "a"."attrelid" = "c"."oid" inner join "pg_catalog"."pg_namespace" as "ns" on "c"."relnamespace" = "ns"."oid" inner join "pg_catalog"."pg_type" as "typ" on "a"."atttypid" = "typ"."oid" inner join "pg_catalog"."pg_namespace" as "dtns" on "typ"."typnamespace" = "dtns"."oid" left join "pg_catalog"."pg_attrdef" as "d" on "d"."adrelid" = "a"."attrelid" and "d"."adnum" = "a"."attnum" where "c"."relkind" in ($1, $2) and "ns"."nspname" !~ $3 and "ns"."nspname" != $4 and has_schema_privilege(ns.nspname, 'USAGE') and "a"."attnum" >= $5 and "a"."attisdropped" != $6 order by "ns"."nspname", "c"."relname", "a"."attnum";
-- parameters: $1 = "r", $2 = "v", $3 = "^pg_", $4 = "information_schema", $5 = 0, $6 = true

create table if not exists "kysely_migration_lock" ("id" varchar(255) not null primary key, "is_locked" integer default 0 not null);

select "id" from "kysely_migration_lock" where "id" = $1;
-- parameters: $1 = "migration_lock"

insert into "kysely_migration_lock" ("id", "is_locked") values ($1, $2);
-- parameters: $1 = "migration_lock", $2 = 0

begin;

-- https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html
lock "kysely_migration_lock";

begin;

select "name", "timestamp" from "kysely_migration";

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
create table "staging_events" ("artist" varchar(512), "auth" varchar(32), "first_name" varchar(256), "gender" varchar(16), "item_in_session" integer, "last_name" varchar(256), "length" double precision, "level" varchar(16), "location" varchar(512), "method" varchar(16), "page" varchar(64) not null, "registration" double precision, "session_id" integer, "song" varchar(512), "status" integer, "ts" bigint not null, "user_agent" varchar(1024), "user_id" varchar(32), "source_file" varchar(1024), "source_line" integer) diststyle even;

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
create table "staging_songs" ("num_songs" integer, "artist_id" varchar(32) not null, "artist_latitude" double precision, "artist_longitude" double precision, "artist_location" varchar(512), "artist_name" varchar(512), "song_id" varchar(32) not null, "title" varchar(512), "duration" double precision, "year" integer, "source_file" varchar(1024), "source_line" integer) diststyle even;

insert into "kysely_migration" ("name", "timestamp") values ($1, $2);
-- parameters: $1 = "20261124_01_staging", $2 = <now>

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
create table "songs" ("song_id" varchar(32) not null, "title" varchar(512), "artist_id" varchar(32) not null, "artist_name" varchar(512), "year" integer, "duration" double precision, constraint "songs_pkey" primary key ("song_id")) diststyle key distkey("song_id") compound sortkey("song_id");

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
create table "artists" ("artist_id" varchar(32) not null, "name" varchar(512), "location" varchar(512), "latitude" double precision, "longitude" double precision, "source_song_id" varchar(32) not null, constraint "artists_pkey" primary key ("artist_id")) diststyle all compound sortkey("artist_id");

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
create table "users" ("user_id" integer not null, "first_name" varchar(256), "last_name" varchar(256), "gender" varchar(16), "level" varchar(16), "last_seen_at" timestamp not null, constraint "users_pkey" primary key ("user_id")) diststyle all compound sortkey("user_id");

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
create table "time" ("start_time" timestamp not null, "hour" integer not null, "day" integer not null, "week" integer not null, "month" integer not null, "year" integer not null, "weekday" integer not null, constraint "time_pkey" primary key ("start_time")) diststyle all compound sortkey("start_time");

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
create table "songplays" ("songplay_id" bigint identity(0, 1) not null, "start_time" timestamp not null, "user_id" integer, "level" varchar(16), "song_id" varchar(32), "artist_id" varchar(32), "session_id" integer not null, "item_in_session" integer not null, "location" varchar(512), "user_agent" varchar(1024), "song_title" varchar(512), "artist_name" varchar(512), "song_length" double precision, constraint "songplays_pkey" primary key ("songplay_id"), constraint "songplays_natural_key" unique ("start_time", "session_id", "item_in_session")) diststyle key distkey("song_id") compound sortkey("start_time");

insert into "kysely_migration" ("name", "timestamp") values ($1, $2);
-- parameters: $1 = "20261124_02_star_schema", $2 = <now>

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
create table "etl_runs" ("run_id" varchar(36) not null, "started_at" timestamp not null, "finished_at" timestamp, "status" varchar(16) not null, "options" varchar(4096) not null, "files" integer, "records_read" bigint, "staged" bigint, "rejected" bigint, "error" varchar(4096), constraint "etl_runs_pkey" primary key ("run_id")) diststyle all compound sortkey("started_at");

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
create table "etl_run_files" ("run_id" varchar(36) not null, "source" varchar(16) not null, "path" varchar(1024) not null, "size" bigint not null, "hash" varchar(64) not null, "records_read" integer not null, "staged" integer not null, "rejected" integer not null, constraint "etl_run_files_pkey" primary key ("run_id", "source", "path")) diststyle all compound sortkey("run_id");

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
create table "load_errors" ("run_id" varchar(36) not null, "source" varchar(16) not null, "file" varchar(1024) not null, "line" integer not null, "reason" varchar(1024) not null, "raw" varchar(8192) not null) diststyle all compound sortkey("run_id", "file", "line");

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
create table "loaded_files" ("source" varchar(16) not null, "path" varchar(1024) not null, "size" bigint not null, "mtime_ms" bigint not null, "hash" varchar(64) not null, "run_id" varchar(36) not null, "loaded_at" timestamp not null, constraint "loaded_files_pkey" primary key ("source", "path")) diststyle all compound sortkey("source", "path");

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
create table "etl_lock" ("holder" varchar(36)) diststyle all;

insert into "kysely_migration" ("name", "timestamp") values ($1, $2);
-- parameters: $1 = "20261125_03_run_bookkeeping", $2 = <now>

insert into "kysely_migration" ("name", "timestamp") values ($1, $2);
-- parameters: $1 = "20261126_04_no_distribution_key_index", $2 = <now>

-- https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE.html
alter table "songplays" alter distkey "start_time";

-- https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE.html
alter table "time" alter diststyle key distkey "start_time";

insert into "kysely_migration" ("name", "timestamp") values ($1, $2);
-- parameters: $1 = "20261126_05_distribution", $2 = <now>

alter table "users" add column "last_session_id" integer;

alter table "users" add column "last_item_in_session" integer;

insert into "kysely_migration" ("name", "timestamp") values ($1, $2);
-- parameters: $1 = "20261126_06_users_latest_event", $2 = <now>

select 1 as found from pg_group where groname = $1;
-- parameters: $1 = "sparkify_reader"

create group "sparkify_reader";

grant select on table "songplays" to group "sparkify_reader";

grant select on table "users" to group "sparkify_reader";

grant select on table "songs" to group "sparkify_reader";

grant select on table "artists" to group "sparkify_reader";

grant select on table "time" to group "sparkify_reader";

insert into "kysely_migration" ("name", "timestamp") values ($1, $2);
-- parameters: $1 = "20261126_07_reader_group", $2 = <now>

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
create table "etl_file_queue" ("run_id" varchar(36) not null, "source" varchar(16) not null, "seq" integer not null, "path" varchar(1024) not null, "file" varchar(2048) not null, "size" bigint not null, "mtime_ms" bigint not null, "hash" varchar(64), constraint "etl_file_queue_pkey" primary key ("run_id", "source", "seq")) diststyle all compound sortkey("run_id", "source", "seq");

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
create table "etl_file_stats" ("run_id" varchar(36) not null, "source" varchar(16) not null, "seq" integer not null, "hash" varchar(64) not null, "records_read" integer not null, "staged" integer not null, "rejected" integer not null, constraint "etl_file_stats_pkey" primary key ("run_id", "source", "seq")) diststyle all compound sortkey("run_id", "source", "seq");

insert into "kysely_migration" ("name", "timestamp") values ($1, $2);
-- parameters: $1 = "20261126_08_run_file_lists", $2 = <now>

commit;

commit;

-- ===== etl =====

begin;

-- https://docs.aws.amazon.com/redshift/latest/dg/r_statement_timeout.html
set statement_timeout to 10000;

-- https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html
lock etl_lock;

-- https://docs.aws.amazon.com/redshift/latest/dg/r_statement_timeout.html
set statement_timeout to 0;

update "etl_runs" set "status" = $1, "finished_at" = $2 where "status" = $3;
-- parameters: $1 = "abandoned", $2 = <now>, $3 = "running"

delete from "etl_file_stats";

delete from "etl_file_queue";

insert into "etl_runs" ("run_id", "started_at", "status", "options") values ($1, $2, $3, $4);
-- parameters: $1 = "<run-id>", $2 = <now>, $3 = "running", $4 = "{\"songsDir\":\"s3://udacity-dend/song_data\",\"logsDir\":\"s3://udacity-dend/log_data\",\"maxErrors\":0,\"gzip\":false}"

-- upload s3://sparkify-staging/etl/jsonpaths/staging_events.json;

begin;

delete from "staging_songs";

delete from "staging_events";

select pg_last_copy_id() as id;

-- https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html
copy "staging_songs" ("num_songs", "artist_id", "artist_latitude", "artist_longitude", "artist_location", "artist_name", "song_id", "title", "duration", "year") from 's3://udacity-dend/song_data/' iam_role 'arn:aws:iam::123456789012:role/sparkify-redshift' region 'us-west-2' format as json 'auto' maxerror 0 compupdate off statupdate off;

-- https://docs.aws.amazon.com/redshift/latest/dg/PG_LAST_COPY_COUNT.html
select pg_last_copy_count() as n;

select pg_last_copy_id() as id;

-- https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html
copy "staging_events" ("artist", "auth", "first_name", "gender", "item_in_session", "last_name", "length", "level", "location", "method", "page", "registration", "session_id", "song", "status", "ts", "user_agent", "user_id") from 's3://udacity-dend/log_data/' iam_role 'arn:aws:iam::123456789012:role/sparkify-redshift' region 'us-west-2' format as json 's3://sparkify-staging/etl/jsonpaths/staging_events.json' maxerror 0 compupdate off statupdate off;

-- https://docs.aws.amazon.com/redshift/latest/dg/PG_LAST_COPY_COUNT.html
select pg_last_copy_count() as n;

select * from "staging_events" where "user_id" !~ '^[0-9]{0,9}$' limit 1;

select * from "staging_events" where ("page" = 'NextSong' and ("session_id" is null or "item_in_session" is null)) limit 1;

commit;

begin;

drop table if exists "songs_merge_source";

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_AS.html
create temporary table "songs_merge_source" diststyle key distkey("song_id") as select "song_id", "title", "artist_id", "artist_name", "year", "duration" from (select "song_id", "title", "artist_id", "artist_name", nullif("year", 0) as "year", "duration", row_number() over(partition by "song_id" order by "title" desc, "artist_id" desc, "artist_name" desc, "year" desc, "duration" desc) as "pick" from "staging_songs") as "s" where "pick" = 1;

select count(*) as "total", case when min("songs_merge_source"."song_id") > (select max("songs"."song_id") as "hi" from "songs") then 1 else 0 end as "beyond" from "songs_merge_source";

select count(*) as "total", count("songs"."song_id") as "matched", count(case when "songs"."song_id" = "songs_merge_source"."song_id" and ("songs"."title" = "songs_merge_source"."title" or ("songs"."title" is null and "songs_merge_source"."title" is null)) and ("songs"."artist_id" = "songs_merge_source"."artist_id" or ("songs"."artist_id" is null and "songs_merge_source"."artist_id" is null)) and ("songs"."artist_name" = "songs_merge_source"."artist_name" or ("songs"."artist_name" is null and "songs_merge_source"."artist_name" is null)) and ("songs"."year" = "songs_merge_source"."year" or ("songs"."year" is null and "songs_merge_source"."year" is null)) and ("songs"."duration" = "songs_merge_source"."duration" or ("songs"."duration" is null and "songs_merge_source"."duration" is null)) then 1 end) as "unchanged" from "songs_merge_source" left join "songs" on "songs"."song_id" = "songs_merge_source"."song_id";

-- https://docs.aws.amazon.com/redshift/latest/dg/r_MERGE.html
merge into "songs" using "songs_merge_source" on "songs"."song_id" = "songs_merge_source"."song_id" when matched then update set "title" = "songs_merge_source"."title", "artist_id" = "songs_merge_source"."artist_id", "artist_name" = "songs_merge_source"."artist_name", "year" = "songs_merge_source"."year", "duration" = "songs_merge_source"."duration" when not matched then insert ("song_id", "title", "artist_id", "artist_name", "year", "duration") values ("songs_merge_source"."song_id", "songs_merge_source"."title", "songs_merge_source"."artist_id", "songs_merge_source"."artist_name", "songs_merge_source"."year", "songs_merge_source"."duration");

drop table "songs_merge_source";

drop table if exists "artists_merge_source";

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_AS.html
create temporary table "artists_merge_source" as select "artist_id", "name", "location", "latitude", "longitude", "source_song_id" from (select "artist_id", "artist_name" as "name", nullif(trim("artist_location"), '') as "location", "artist_latitude" as "latitude", "artist_longitude" as "longitude", "song_id" as "source_song_id", row_number() over(partition by "artist_id" order by "song_id" asc, "title" desc, "artist_id" desc, "artist_name" desc, "year" desc, "duration" desc, "artist_location" desc, "artist_latitude" desc, "artist_longitude" desc) as "pick" from "staging_songs") as "a" where "pick" = 1;

select count(*) as "total", case when min("artists_merge_source"."artist_id") > (select max("artists"."artist_id") as "hi" from "artists") then 1 else 0 end as "beyond" from "artists_merge_source";

-- https://docs.aws.amazon.com/redshift/latest/dg/r_DELETE.html
delete from "artists_merge_source" using "artists" where "artists"."artist_id" = "artists_merge_source"."artist_id" and "artists"."source_song_id" < "artists_merge_source"."source_song_id";

select count(*) as "total", count("artists"."artist_id") as "matched", count(case when "artists"."artist_id" = "artists_merge_source"."artist_id" and ("artists"."name" = "artists_merge_source"."name" or ("artists"."name" is null and "artists_merge_source"."name" is null)) and ("artists"."location" = "artists_merge_source"."location" or ("artists"."location" is null and "artists_merge_source"."location" is null)) and ("artists"."latitude" = "artists_merge_source"."latitude" or ("artists"."latitude" is null and "artists_merge_source"."latitude" is null)) and ("artists"."longitude" = "artists_merge_source"."longitude" or ("artists"."longitude" is null and "artists_merge_source"."longitude" is null)) and ("artists"."source_song_id" = "artists_merge_source"."source_song_id" or ("artists"."source_song_id" is null and "artists_merge_source"."source_song_id" is null)) then 1 end) as "unchanged" from "artists_merge_source" left join "artists" on "artists"."artist_id" = "artists_merge_source"."artist_id";

-- https://docs.aws.amazon.com/redshift/latest/dg/r_MERGE.html
merge into "artists" using "artists_merge_source" on "artists"."artist_id" = "artists_merge_source"."artist_id" when matched then update set "name" = "artists_merge_source"."name", "location" = "artists_merge_source"."location", "latitude" = "artists_merge_source"."latitude", "longitude" = "artists_merge_source"."longitude", "source_song_id" = "artists_merge_source"."source_song_id" when not matched then insert ("artist_id", "name", "location", "latitude", "longitude", "source_song_id") values ("artists_merge_source"."artist_id", "artists_merge_source"."name", "artists_merge_source"."location", "artists_merge_source"."latitude", "artists_merge_source"."longitude", "artists_merge_source"."source_song_id");

drop table "artists_merge_source";

drop table if exists "users_merge_source";

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_AS.html
create temporary table "users_merge_source" as select "user_id", "first_name", "last_name", "gender", "level", "last_seen_at", "last_session_id", "last_item_in_session" from (select cast("e"."user_id" as integer) as "user_id", "e"."first_name", "e"."last_name", "e"."gender", "e"."level", (timestamp 'epoch' + "e"."ts" * interval '1 millisecond') as "last_seen_at", "e"."session_id" as "last_session_id", "e"."item_in_session" as "last_item_in_session", row_number() over(partition by "e"."user_id" order by "e"."session_id" desc, "e"."item_in_session" desc, "e"."first_name" desc, "e"."last_name" desc, "e"."gender" desc, "e"."level" desc) as "pick" from "staging_events" as "e" inner join (select "user_id", max("ts") as "ts" from "staging_events" where "user_id" <> '' group by "user_id") as "l" on "l"."user_id" = "e"."user_id" and "l"."ts" = "e"."ts") as "u" where "pick" = 1;

select count(*) as "total", case when min("users_merge_source"."user_id") > (select max("users"."user_id") as "hi" from "users") then 1 else 0 end as "beyond" from "users_merge_source";

-- https://docs.aws.amazon.com/redshift/latest/dg/r_DELETE.html
delete from "users_merge_source" using "users" where "users"."user_id" = "users_merge_source"."user_id" and ("users"."last_seen_at" > "users_merge_source"."last_seen_at" or ("users"."last_seen_at" = "users_merge_source"."last_seen_at" and (coalesce("users"."last_session_id", 2147483647) > coalesce("users_merge_source"."last_session_id", 2147483647) or (coalesce("users"."last_session_id", 2147483647) = coalesce("users_merge_source"."last_session_id", 2147483647) and coalesce("users"."last_item_in_session", 2147483647) > coalesce("users_merge_source"."last_item_in_session", 2147483647)))));

select count(*) as "total", count("users"."user_id") as "matched", count(case when "users"."user_id" = "users_merge_source"."user_id" and ("users"."first_name" = "users_merge_source"."first_name" or ("users"."first_name" is null and "users_merge_source"."first_name" is null)) and ("users"."last_name" = "users_merge_source"."last_name" or ("users"."last_name" is null and "users_merge_source"."last_name" is null)) and ("users"."gender" = "users_merge_source"."gender" or ("users"."gender" is null and "users_merge_source"."gender" is null)) and ("users"."level" = "users_merge_source"."level" or ("users"."level" is null and "users_merge_source"."level" is null)) and ("users"."last_seen_at" = "users_merge_source"."last_seen_at" or ("users"."last_seen_at" is null and "users_merge_source"."last_seen_at" is null)) and ("users"."last_session_id" = "users_merge_source"."last_session_id" or ("users"."last_session_id" is null and "users_merge_source"."last_session_id" is null)) and ("users"."last_item_in_session" = "users_merge_source"."last_item_in_session" or ("users"."last_item_in_session" is null and "users_merge_source"."last_item_in_session" is null)) then 1 end) as "unchanged" from "users_merge_source" left join "users" on "users"."user_id" = "users_merge_source"."user_id";

-- https://docs.aws.amazon.com/redshift/latest/dg/r_MERGE.html
merge into "users" using "users_merge_source" on "users"."user_id" = "users_merge_source"."user_id" when matched then update set "first_name" = "users_merge_source"."first_name", "last_name" = "users_merge_source"."last_name", "gender" = "users_merge_source"."gender", "level" = "users_merge_source"."level", "last_seen_at" = "users_merge_source"."last_seen_at", "last_session_id" = "users_merge_source"."last_session_id", "last_item_in_session" = "users_merge_source"."last_item_in_session" when not matched then insert ("user_id", "first_name", "last_name", "gender", "level", "last_seen_at", "last_session_id", "last_item_in_session") values ("users_merge_source"."user_id", "users_merge_source"."first_name", "users_merge_source"."last_name", "users_merge_source"."gender", "users_merge_source"."level", "users_merge_source"."last_seen_at", "users_merge_source"."last_session_id", "users_merge_source"."last_item_in_session");

drop table "users_merge_source";

select 1 as "one" from "songplays" limit 1;

drop table if exists "songplays_merge_source";

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_AS.html
create temporary table "songplays_merge_source" diststyle key distkey("start_time") as select "p"."start_time", "p"."user_id", "p"."level", "p"."song_id", "p"."artist_id", "p"."session_id", "p"."item_in_session", "p"."location", "p"."user_agent", "p"."song_title", "p"."artist_name", "p"."song_length" from (select "e"."start_time", cast(nullif("e"."user_id", '') as integer) as "user_id", "e"."level", "m"."song_id", "m"."artist_id", "e"."session_id", "e"."item_in_session", "e"."location", "e"."user_agent", "e"."song" as "song_title", "e"."artist" as "artist_name", "e"."length" as "song_length", row_number() over(partition by "e"."start_time", "e"."session_id", "e"."item_in_session" order by "e"."user_id" desc, "e"."level" desc, "e"."song" desc, "e"."artist" desc, "e"."length" desc, "e"."location" desc, "e"."user_agent" desc, "m"."song_id") as "pick" from (select *, (timestamp 'epoch' + "ts" * interval '1 millisecond') as "start_time" from "staging_events" where "page" = 'NextSong') as "e" left join "songs" as "m" on "m"."title" = "e"."song" and "m"."artist_name" = "e"."artist" and "m"."duration" = "e"."length") as "p" where "p"."pick" = 1;

select count(*) as "total", case when min("songplays_merge_source"."start_time") > (select max("songplays"."start_time") as "hi" from "songplays") then 1 else 0 end as "beyond" from "songplays_merge_source";

select count(*) as "total", count("songplays"."start_time") as "matched", count(case when "songplays"."start_time" = "songplays_merge_source"."start_time" and "songplays"."session_id" = "songplays_merge_source"."session_id" and "songplays"."item_in_session" = "songplays_merge_source"."item_in_session" and ("songplays"."user_id" = "songplays_merge_source"."user_id" or ("songplays"."user_id" is null and "songplays_merge_source"."user_id" is null)) and ("songplays"."level" = "songplays_merge_source"."level" or ("songplays"."level" is null and "songplays_merge_source"."level" is null)) and ("songplays"."song_id" = "songplays_merge_source"."song_id" or ("songplays"."song_id" is null and "songplays_merge_source"."song_id" is null)) and ("songplays"."artist_id" = "songplays_merge_source"."artist_id" or ("songplays"."artist_id" is null and "songplays_merge_source"."artist_id" is null)) and ("songplays"."location" = "songplays_merge_source"."location" or ("songplays"."location" is null and "songplays_merge_source"."location" is null)) and ("songplays"."user_agent" = "songplays_merge_source"."user_agent" or ("songplays"."user_agent" is null and "songplays_merge_source"."user_agent" is null)) and ("songplays"."song_title" = "songplays_merge_source"."song_title" or ("songplays"."song_title" is null and "songplays_merge_source"."song_title" is null)) and ("songplays"."artist_name" = "songplays_merge_source"."artist_name" or ("songplays"."artist_name" is null and "songplays_merge_source"."artist_name" is null)) and ("songplays"."song_length" = "songplays_merge_source"."song_length" or ("songplays"."song_length" is null and "songplays_merge_source"."song_length" is null)) then 1 end) as "unchanged" from "songplays_merge_source" left join "songplays" on "songplays"."start_time" = "songplays_merge_source"."start_time" and "songplays"."session_id" = "songplays_merge_source"."session_id" and "songplays"."item_in_session" = "songplays_merge_source"."item_in_session";

-- https://docs.aws.amazon.com/redshift/latest/dg/r_MERGE.html
merge into "songplays" using "songplays_merge_source" on "songplays"."start_time" = "songplays_merge_source"."start_time" and "songplays"."session_id" = "songplays_merge_source"."session_id" and "songplays"."item_in_session" = "songplays_merge_source"."item_in_session" when matched then update set "user_id" = "songplays_merge_source"."user_id", "level" = "songplays_merge_source"."level", "song_id" = "songplays_merge_source"."song_id", "artist_id" = "songplays_merge_source"."artist_id", "location" = "songplays_merge_source"."location", "user_agent" = "songplays_merge_source"."user_agent", "song_title" = "songplays_merge_source"."song_title", "artist_name" = "songplays_merge_source"."artist_name", "song_length" = "songplays_merge_source"."song_length" when not matched then insert ("start_time", "user_id", "level", "song_id", "artist_id", "session_id", "item_in_session", "location", "user_agent", "song_title", "artist_name", "song_length") values ("songplays_merge_source"."start_time", "songplays_merge_source"."user_id", "songplays_merge_source"."level", "songplays_merge_source"."song_id", "songplays_merge_source"."artist_id", "songplays_merge_source"."session_id", "songplays_merge_source"."item_in_session", "songplays_merge_source"."location", "songplays_merge_source"."user_agent", "songplays_merge_source"."song_title", "songplays_merge_source"."artist_name", "songplays_merge_source"."song_length");

drop table "songplays_merge_source";

drop table if exists "time_merge_source";

-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html
-- https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_AS.html
create temporary table "time_merge_source" diststyle key distkey("start_time") as select "start_time", cast(date_part('hour', "start_time") as integer) as "hour", cast(date_part('day', "start_time") as integer) as "day", cast(date_part('week', "start_time") as integer) as "week", cast(date_part('month', "start_time") as integer) as "month", cast(date_part('year', "start_time") as integer) as "year", cast(date_part('dow', "start_time") as integer) as "weekday" from (select distinct (timestamp 'epoch' + "ts" * interval '1 millisecond') as "start_time" from "staging_events" where "page" = 'NextSong') as "t";

select count(*) as "total", case when min("time_merge_source"."start_time") > (select max("time"."start_time") as "hi" from "time") then 1 else 0 end as "beyond" from "time_merge_source";

select count(*) as "total", count("time"."start_time") as "matched", count(case when "time"."start_time" = "time_merge_source"."start_time" and ("time"."hour" = "time_merge_source"."hour" or ("time"."hour" is null and "time_merge_source"."hour" is null)) and ("time"."day" = "time_merge_source"."day" or ("time"."day" is null and "time_merge_source"."day" is null)) and ("time"."week" = "time_merge_source"."week" or ("time"."week" is null and "time_merge_source"."week" is null)) and ("time"."month" = "time_merge_source"."month" or ("time"."month" is null and "time_merge_source"."month" is null)) and ("time"."year" = "time_merge_source"."year" or ("time"."year" is null and "time_merge_source"."year" is null)) and ("time"."weekday" = "time_merge_source"."weekday" or ("time"."weekday" is null and "time_merge_source"."weekday" is null)) then 1 end) as "unchanged" from "time_merge_source" left join "time" on "time"."start_time" = "time_merge_source"."start_time";

-- https://docs.aws.amazon.com/redshift/latest/dg/r_MERGE.html
merge into "time" using "time_merge_source" on "time"."start_time" = "time_merge_source"."start_time" when matched then update set "hour" = "time_merge_source"."hour", "day" = "time_merge_source"."day", "week" = "time_merge_source"."week", "month" = "time_merge_source"."month", "year" = "time_merge_source"."year", "weekday" = "time_merge_source"."weekday" when not matched then insert ("start_time", "hour", "day", "week", "month", "year", "weekday") values ("time_merge_source"."start_time", "time_merge_source"."hour", "time_merge_source"."day", "time_merge_source"."week", "time_merge_source"."month", "time_merge_source"."year", "time_merge_source"."weekday");

drop table "time_merge_source";

select count(*) as "plays", count("p"."song_id") as "matched" from "songplays" as "p";

select count(case when ("f"."user_id" is not null and "p_user_id"."user_id" is null) then 1 end) as "r0", count(case when ("f"."start_time" is not null and "p_start_time"."start_time" is null) then 1 end) as "r1", count(case when ("f"."song_id" is not null and "p_song_id"."song_id" is null) then 1 end) as "r2", count(case when ("f"."artist_id" is not null and "p_artist_id"."artist_id" is null) then 1 end) as "r3", count(case when "f"."songplay_id" is null then 1 end) as "r4" from "staging_events" as "e" left join "songplays" as "f" on "f"."session_id" = "e"."session_id" and "f"."item_in_session" = "e"."item_in_session" and "f"."start_time" = (timestamp 'epoch' + "e"."ts" * interval '1 millisecond') left join "users" as "p_user_id" on "p_user_id"."user_id" = "f"."user_id" left join "time" as "p_start_time" on "p_start_time"."start_time" = "f"."start_time" left join "songs" as "p_song_id" on "p_song_id"."song_id" = "f"."song_id" left join "artists" as "p_artist_id" on "p_artist_id"."artist_id" = "f"."artist_id" where "e"."page" = 'NextSong';

select count(*) as "n" from "songs" where "song_id" is null;

select count(*) as "n" from "artists" where "artist_id" is null;

select count(*) as "n" from "users" where "user_id" is null;

select count(*) as "n" from "time" where "start_time" is null;

select count(*) as "n" from "songplays" where ("songplay_id" is null or "start_time" is null or "session_id" is null or "item_in_session" is null);

select count(*) as "n" from (select "song_id" from "songs" group by "song_id" having count(*) > 1) as "d";

select count(*) as "n" from (select "artist_id" from "artists" group by "artist_id" having count(*) > 1) as "d";

select count(*) as "n" from (select "user_id" from "users" group by "user_id" having count(*) > 1) as "d";

select count(*) as "n" from (select "start_time" from "time" group by "start_time" having count(*) > 1) as "d";

select count(*) as "n" from (select "start_time", "session_id", "item_in_session" from "songplays" group by "start_time", "session_id", "item_in_session" having count(*) > 1) as "d";

select 1 as "one" from "songs" limit 1;

select 1 as "one" from "artists" limit 1;

select 1 as "one" from "users" limit 1;

select 1 as "one" from "songplays" limit 1;

select 1 as "one" from "time" limit 1;

-- https://docs.aws.amazon.com/redshift/latest/dg/r_DELETE.html
delete from "loaded_files" using "etl_file_queue" as "q" where "q"."run_id" = $1 and "q"."source" = "loaded_files"."source" and "q"."path" = "loaded_files"."path";
-- parameters: $1 = "<run-id>"

insert into "loaded_files" ("source", "path", "size", "mtime_ms", "hash", "run_id", "loaded_at") select "q"."source", "q"."path", "q"."size", "q"."mtime_ms", "s"."hash", "q"."run_id", $1 as "loaded_at" from "etl_file_queue" as "q" inner join "etl_file_stats" as "s" on "s"."run_id" = "q"."run_id" and "s"."source" = "q"."source" and "s"."seq" = "q"."seq" where "q"."run_id" = $2;
-- parameters: $1 = <now>, $2 = "<run-id>"

insert into "etl_run_files" ("run_id", "source", "path", "size", "hash", "records_read", "staged", "rejected") select "q"."run_id", "q"."source", "q"."path", "q"."size", "s"."hash", "s"."records_read", "s"."staged", "s"."rejected" from "etl_file_queue" as "q" inner join "etl_file_stats" as "s" on "s"."run_id" = "q"."run_id" and "s"."source" = "q"."source" and "s"."seq" = "q"."seq" where "q"."run_id" = $1;
-- parameters: $1 = "<run-id>"

select count(*) as "files", coalesce(sum("records_read"), 0) as "read", coalesce(sum("staged"), 0) as "staged", coalesce(sum("rejected"), 0) as "rejected" from "etl_run_files" where "run_id" = $1;
-- parameters: $1 = "<run-id>"

update "etl_runs" set "status" = $1, "finished_at" = $2, "files" = $3, "records_read" = $4, "staged" = $5, "rejected" = $6, "error" = $7 where "run_id" = $8;
-- parameters: $1 = "succeeded", $2 = <now>, $3 = 0, $4 = 0, $5 = 0, $6 = 0, $7 = null, $8 = "<run-id>"

delete from "etl_file_stats" where "run_id" = $1;
-- parameters: $1 = "<run-id>"

delete from "etl_file_queue" where "run_id" = $1;
-- parameters: $1 = "<run-id>"

select count(*) as "n" from "songs";

select count(*) as "n" from "artists";

select count(*) as "n" from "users";

select count(*) as "n" from "time";

commit;

-- https://docs.aws.amazon.com/redshift/latest/dg/r_TRUNCATE.html
truncate table "staging_songs";

-- https://docs.aws.amazon.com/redshift/latest/dg/r_TRUNCATE.html
truncate table "staging_events";

commit;
