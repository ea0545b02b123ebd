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
        }
    }

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
