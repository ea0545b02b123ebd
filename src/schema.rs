//! Diesel table definitions. The `hq` tables are schema-qualified; tenant tables
//! are not, so they resolve through the territory-bound connection's search_path.

diesel::table! {
    hq.installation (singleton) {
        singleton -> Bool,
        role_prefix -> Text,
    }
}

diesel::table! {
    hq.territories (id) {
        id -> Int8,
        slug -> Text,
        display_name -> Text,
        time_zone -> Text,
        locale -> Text,
        status -> Text,
        schema_name -> Text,
        role_name -> Text,
        schema_version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    hq.territory_contracts (territory_id, effective_from) {
        territory_id -> Int8,
        effective_from -> Date,
        franchise_rate -> Numeric,
        hq_rate -> Numeric,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    hq.territory_domains (host) {
        host -> Text,
        territory_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    hq.tenant_template_steps (version) {
        version -> Int4,
        name -> Text,
        checksum -> Text,
        recorded_at -> Timestamptz,
    }
}

diesel::joinable!(territory_contracts -> territories (territory_id));
diesel::joinable!(territory_domains -> territories (territory_id));
diesel::allow_tables_to_appear_in_same_query!(territories, territory_contracts, territory_domains);

/// Tables of a tenant schema, resolved through the bound search_path.
pub mod tenant {
    diesel::table! {
        template_steps (version) {
            version -> Int4,
            name -> Text,
            checksum -> Text,
            applied_at -> Timestamptz,
        }
    }

    diesel::table! {
        settings (singleton) {
            singleton -> Bool,
            currency -> Text,
            portal_display_name -> Nullable<Text>,
            portal_primary_color -> Nullable<Text>,
            portal_logo_url -> Nullable<Text>,
            updated_at -> Timestamptz,
            portal_secondary_color -> Nullable<Text>,
            cancellation_free_hours -> Int4,
            cancellation_fee_percent -> Numeric,
            min_notice_minutes -> Int4,
            booking_horizon_days -> Int4,
        }
    }

    diesel::table! {
        service_overrides (service_code) {
            service_code -> Text,
            enabled -> Bool,
            price -> Nullable<Numeric>,
            duration_minutes -> Nullable<Int4>,
            name_nl -> Nullable<Text>,
            name_en -> Nullable<Text>,
            description_nl -> Nullable<Text>,
            description_en -> Nullable<Text>,
            cancellation_free_hours -> Nullable<Int4>,
            cancellation_fee_percent -> Nullable<Numeric>,
            min_notice_minutes -> Nullable<Int4>,
            updated_at -> Timestamptz,
            updated_by -> Nullable<Uuid>,
        }
    }

    diesel::table! {
        pros (id) {
            id -> Uuid,
            account_id -> Uuid,
            display_name -> Text,
            bio -> Text,
            languages -> Array<Text>,
            postcodes -> Array<Text>,
            status -> Text,
            created_at -> Timestamptz,
            updated_at -> Timestamptz,
            pending_display_name -> Nullable<Text>,
            pending_bio -> Nullable<Text>,
            pending_since -> Nullable<Timestamptz>,
            profile_revision -> Int4,
        }
    }

    diesel::table! {
        pro_offerings (pro_id, service_code) {
            pro_id -> Uuid,
            service_code -> Text,
            price -> Nullable<Numeric>,
        }
    }

    diesel::joinable!(pro_offerings -> pros (pro_id));
    diesel::allow_tables_to_appear_in_same_query!(pros, pro_offerings);

    diesel::table! {
        outbox (event_id) {
            event_id -> Uuid,
            kind -> Text,
            payload -> Jsonb,
            created_at -> Timestamptz,
            drained_at -> Nullable<Timestamptz>,
        }
    }
}

diesel::table! {
    hq.accounts (id) {
        id -> Uuid,
        email -> Text,
        email_normalized -> Text,
        password_hash -> Text,
        display_name -> Text,
        email_verified_at -> Nullable<Timestamptz>,
        status -> Text,
        failed_sign_ins -> Int4,
        locked_until -> Nullable<Timestamptz>,
        totp_secret -> Nullable<Text>,
        totp_enabled_at -> Nullable<Timestamptz>,
        totp_last_step -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    hq.memberships (id) {
        id -> Uuid,
        account_id -> Uuid,
        territory_id -> Nullable<Int8>,
        role -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    hq.sessions (id) {
        id -> Uuid,
        token_hash -> Bytea,
        account_id -> Uuid,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        idle_timeout_seconds -> Int4,
        absolute_expires_at -> Timestamptz,
        mfa_verified_at -> Nullable<Timestamptz>,
        user_agent -> Nullable<Text>,
        ip_address -> Nullable<Text>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    hq.one_time_tokens (token_hash) {
        token_hash -> Bytea,
        account_id -> Uuid,
        purpose -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    hq.invitations (id) {
        id -> Uuid,
        token_hash -> Bytea,
        email_normalized -> Text,
        territory_id -> Int8,
        role -> Text,
        invited_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        accepted_at -> Nullable<Timestamptz>,
        accepted_by -> Nullable<Uuid>,
        email -> Text,
    }
}

diesel::table! {
    hq.mfa_backup_codes (account_id, code_hash) {
        account_id -> Uuid,
        code_hash -> Bytea,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    hq.mail_outbox (id) {
        id -> Uuid,
        to_address -> Text,
        subject -> Text,
        body -> Text,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        to_lookup -> Text,
    }
}

diesel::joinable!(memberships -> accounts (account_id));
diesel::joinable!(memberships -> territories (territory_id));
diesel::joinable!(sessions -> accounts (account_id));
diesel::joinable!(invitations -> territories (territory_id));
diesel::allow_tables_to_appear_in_same_query!(accounts, memberships, sessions, territories, invitations);

diesel::table! {
    hq.vat_categories (code) {
        code -> Text,
        name_nl -> Text,
        name_en -> Text,
    }
}

diesel::table! {
    hq.vat_rates (category, effective_from) {
        category -> Text,
        effective_from -> Date,
        rate -> Numeric,
    }
}

diesel::table! {
    hq.service_categories (code) {
        code -> Text,
        name_nl -> Text,
        name_en -> Text,
        position -> Int4,
    }
}

diesel::table! {
    hq.services (code) {
        code -> Text,
        category -> Text,
        name_nl -> Text,
        name_en -> Text,
        description_nl -> Text,
        description_en -> Text,
        duration_minutes -> Int4,
        min_duration_minutes -> Int4,
        max_duration_minutes -> Int4,
        base_price -> Numeric,
        min_price -> Numeric,
        max_price -> Numeric,
        vat_category -> Text,
        instant_booking -> Bool,
        active -> Bool,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    hq.catalog_changes (id) {
        id -> Int8,
        changed_at -> Timestamptz,
        account_id -> Nullable<Uuid>,
        entity -> Text,
        entity_code -> Text,
        action -> Text,
        after -> Jsonb,
    }
}
