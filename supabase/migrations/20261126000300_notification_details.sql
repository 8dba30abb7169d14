-- Notifications carry their message as i18n keys and values too (forecasting.notifications), so the
-- dashboard shows them in the reader's language; title and message keep the English text for
-- everyone else. Idempotent.

alter table public.notifications add column if not exists details jsonb;

-- The version of the newest migration (see 20261126000100): keep it equal to this file's timestamp.
create or replace function public.forecasting_schema_version()
returns text
language sql
immutable
as $$ select '20261126000300'::text $$;

notify pgrst, 'reload schema';
