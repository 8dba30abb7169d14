-- Dashboard sign-in (forecasting.auth): users with argon2 password hashes and their sessions.
-- Only the pipeline's role (the service role, or the tables' owner on plain PostgreSQL) reads
-- or writes them: no API role gets any grant, and RLS is on without policies.
-- Idempotent, like every migration here.

create table if not exists public.app_users (
    username text primary key,
    password_hash text not null,
    role text not null,
    tenant_id text,
    disabled boolean not null default false,
    failed_attempts integer not null default 0,
    locked_until timestamptz,
    last_sign_in timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint app_users_role_check check (role in ('admin', 'analyst', 'owner')),
    constraint app_users_owner_has_tenant check (role <> 'owner' or tenant_id is not null)
);

create table if not exists public.app_sessions (
    token_hash text primary key,
    username text not null,
    created_at timestamptz not null,
    last_seen timestamptz not null,
    expires_at timestamptz not null
);
create index if not exists ix_app_sessions_username on public.app_sessions (username);

alter table public.app_users enable row level security;
alter table public.app_sessions enable row level security;

do $signin$
begin
    if (select count(*) from pg_roles where rolname in ('anon', 'authenticated', 'service_role')) < 3 then
        return;
    end if;
    revoke all on table public.app_users, public.app_sessions from anon, authenticated;
    grant all on table public.app_users, public.app_sessions to service_role;
end
$signin$;

-- The version of the newest migration (see 20261126000100): keep it equal to this file's timestamp.
create or replace function public.forecasting_schema_version()
returns text
language sql
immutable
as $$ select '20261126000200'::text $$;

notify pgrst, 'reload schema';
