-- Sign-in attempts counted per user name typed, known or not, before the password is checked
-- (forecasting.auth.sign_in): parallel attempts each get their own count, so a burst can't slip
-- past the lockout, and an unknown name costs the same write as a known one. The counters move
-- here from app_users. Only the pipeline's role reads or writes the table. Idempotent.

create table if not exists public.sign_in_attempts (
    username text primary key,
    failed_attempts integer not null,
    locked_until timestamptz,
    last_attempt_at timestamptz not null
);
alter table public.sign_in_attempts enable row level security;

alter table public.app_users drop column if exists failed_attempts;
alter table public.app_users drop column if exists locked_until;

-- Count one attempt atomically: (attempts, locked_until). While locked nothing is counted; once the
-- lock has passed counting starts again at 1. Called over REST as POST /rest/v1/rpc/forecasting_count_sign_in_attempt.
create or replace function public.forecasting_count_sign_in_attempt(username text, now_ts timestamptz)
returns table (failed_attempts integer, locked_until timestamptz)
language sql
volatile
set search_path = ''
as $$
    insert into public.sign_in_attempts as a (username, failed_attempts, locked_until, last_attempt_at)
    values (forecasting_count_sign_in_attempt.username, 1, null, forecasting_count_sign_in_attempt.now_ts)
    on conflict (username) do update
        set failed_attempts = case when a.locked_until > excluded.last_attempt_at then a.failed_attempts
                                   when a.locked_until is not null then 1
                                   else a.failed_attempts + 1 end,
            locked_until = case when a.locked_until > excluded.last_attempt_at then a.locked_until end,
            last_attempt_at = excluded.last_attempt_at
    returning a.failed_attempts, a.locked_until
$$;
revoke execute on function public.forecasting_count_sign_in_attempt(text, timestamptz) from public;

do $attempts$
begin
    if (select count(*) from pg_roles where rolname in ('anon', 'authenticated', 'service_role')) < 3 then
        return;
    end if;
    revoke all on table public.sign_in_attempts from anon, authenticated;
    grant all on table public.sign_in_attempts to service_role;
    revoke execute on function public.forecasting_count_sign_in_attempt(text, timestamptz) from anon, authenticated;
    grant execute on function public.forecasting_count_sign_in_attempt(text, timestamptz) to service_role;
end
$attempts$;

-- The version of the newest migration (see 20261126000100): keep it equal to this file's timestamp.
create or replace function public.forecasting_schema_version()
returns text
language sql
immutable
as $$ select '20261127000000'::text $$;

notify pgrst, 'reload schema';
