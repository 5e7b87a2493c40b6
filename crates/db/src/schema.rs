// The schema of both databases (migrations/postgres and migrations/sqlite
// create the same tables). Kept by hand in step with the migrations; the
// migration test checks that every table and column here exists on both.

diesel::table! {
    organizations (id) {
        id -> Text,
        name -> Text,
        kind -> Text,
        credit_code -> Text,
        region_code -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        organization_id -> Nullable<Text>,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        role -> Text,
        locale -> Text,
        disabled_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        organization_role -> Text,
        password_changed_at -> Nullable<Timestamp>,
        must_change_password -> Bool,
    }
}

diesel::table! {
    password_resets (id) {
        id -> Text,
        user_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        token_hash -> Text,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        last_seen_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    registration_attempts (id) {
        id -> BigInt,
        ip -> Text,
        attempted_at -> Timestamp,
    }
}

diesel::table! {
    second_factors (user_id) {
        user_id -> Text,
        sealed_secret -> Text,
        created_at -> Timestamp,
        confirmed_at -> Nullable<Timestamp>,
        last_step -> Nullable<BigInt>,
    }
}

diesel::table! {
    recovery_codes (user_id, code_hash) {
        user_id -> Text,
        code_hash -> Text,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_challenges (id) {
        id -> Text,
        user_id -> Text,
        token_hash -> Text,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_attempts (id) {
        id -> BigInt,
        email -> Text,
        ip -> Text,
        succeeded -> Bool,
        attempted_at -> Timestamp,
    }
}

diesel::table! {
    listings (id) {
        id -> Text,
        owner_organization_id -> Text,
        created_by -> Text,
        kind -> Text,
        status -> Text,
        title -> Text,
        summary -> Text,
        description -> Nullable<Text>,
        ipc_codes -> Text,
        maturity -> Text,
        trade_modes -> Text,
        price_fen -> Nullable<BigInt>,
        negotiable -> Bool,
        region_code -> Text,
        review_reason -> Nullable<Text>,
        submitted_at -> Nullable<Timestamp>,
        published_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    listing_patents (id) {
        id -> Text,
        listing_id -> Text,
        position -> Integer,
        application_number -> Text,
        publication_number -> Nullable<Text>,
        patent_type -> Text,
        title -> Text,
        filing_date -> Date,
        grant_date -> Nullable<Date>,
        legal_status -> Text,
        expires_on -> Date,
    }
}

diesel::table! {
    demands (id) {
        id -> Text,
        owner_organization_id -> Text,
        created_by -> Text,
        status -> Text,
        title -> Text,
        description -> Text,
        ipc_codes -> Text,
        budget_min_fen -> Nullable<BigInt>,
        budget_max_fen -> Nullable<BigInt>,
        negotiable -> Bool,
        trade_modes -> Text,
        region_code -> Text,
        deadline -> Nullable<Date>,
        review_reason -> Nullable<Text>,
        submitted_at -> Nullable<Timestamp>,
        published_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    moderation_reviews (id) {
        id -> Text,
        subject_type -> Text,
        subject_id -> Text,
        reviewer_id -> Text,
        decision -> Text,
        reason -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    saved_searches (id) {
        id -> Text,
        user_id -> Text,
        query -> Text,
        notify -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    saved_search_alerts (saved_search_id, item_type, item_id) {
        saved_search_id -> Text,
        item_type -> Text,
        item_id -> Text,
        outbox_event_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    deals (id) {
        id -> Text,
        listing_id -> Text,
        demand_id -> Nullable<Text>,
        buyer_organization_id -> Text,
        seller_organization_id -> Text,
        agency_organization_id -> Nullable<Text>,
        status -> Text,
        agreed_offer_id -> Nullable<Text>,
        created_by -> Text,
        agreed_at -> Nullable<Timestamp>,
        contracted_at -> Nullable<Timestamp>,
        registered_at -> Nullable<Timestamp>,
        completed_at -> Nullable<Timestamp>,
        cancelled_at -> Nullable<Timestamp>,
        cancel_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        agency_status -> Nullable<Text>,
        terminated_on -> Nullable<Date>,
        termination_reason -> Nullable<Text>,
    }
}

diesel::table! {
    payment_refunds (id) {
        id -> Text,
        payment_id -> Text,
        amount_fen -> BigInt,
        refunded_on -> Date,
        reference -> Nullable<Text>,
        stripe_refund_id -> Nullable<Text>,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    offers (id) {
        id -> Text,
        deal_id -> Text,
        sequence -> Integer,
        organization_id -> Text,
        created_by -> Text,
        amount_fen -> BigInt,
        trade_mode -> Text,
        terms -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    contracts (id) {
        id -> Text,
        deal_id -> Text,
        category -> Text,
        trade_mode -> Text,
        total_amount_fen -> BigInt,
        non_technical_amount_fen -> BigInt,
        technology_amount_fen -> BigInt,
        signed_on -> Date,
        related_party -> Bool,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    registrations (id) {
        id -> Text,
        deal_id -> Text,
        decision -> Text,
        registration_number -> Nullable<Text>,
        registered_technology_amount_fen -> Nullable<BigInt>,
        reason -> Nullable<Text>,
        official_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    registration_applications (id) {
        id -> Text,
        seller_organization_id -> Text,
        deal_id -> Nullable<Text>,
        status -> Text,
        category -> Text,
        subcategory -> Nullable<Text>,
        buyer_organization_id -> Nullable<Text>,
        buyer_name -> Text,
        buyer_credit_code -> Text,
        buyer_region_code -> Text,
        buyer_kind -> Text,
        reminded_for -> Nullable<Date>,
        total_amount_fen -> BigInt,
        non_technical_amount_fen -> BigInt,
        signed_on -> Date,
        valid_until -> Date,
        technology_field -> Nullable<Text>,
        ip_type -> Nullable<Text>,
        government_project -> Bool,
        related_party -> Bool,
        submitted_on -> Nullable<Date>,
        decide_by -> Nullable<Date>,
        stopped_on -> Nullable<Date>,
        deadline_provisional -> Bool,
        registration_number -> Nullable<Text>,
        registered_total_fen -> Nullable<BigInt>,
        registered_technology_fen -> Nullable<BigInt>,
        refusal_reasons -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        disputed -> Bool,
    }
}

diesel::table! {
    registration_application_events (id) {
        id -> Text,
        application_id -> Text,
        event -> Text,
        message -> Nullable<Text>,
        decide_by -> Nullable<Date>,
        actor_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    registration_changes (id) {
        id -> Text,
        application_id -> Text,
        kind -> Text,
        status -> Text,
        total_amount_fen -> Nullable<BigInt>,
        non_technical_amount_fen -> Nullable<BigInt>,
        valid_until -> Nullable<Date>,
        reason -> Text,
        refusal_reasons -> Nullable<Text>,
        requested_by -> Text,
        requested_at -> Timestamp,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    registration_documents (id) {
        id -> Text,
        application_id -> Text,
        kind -> Text,
        file_name -> Text,
        media_type -> Text,
        size_bytes -> BigInt,
        sha256 -> Text,
        content -> Nullable<Binary>,
        uploaded_by -> Text,
        uploaded_at -> Timestamp,
    }
}

diesel::table! {
    registration_payments (id) {
        id -> Text,
        application_id -> Text,
        amount_fen -> BigInt,
        paid_on -> Date,
        proof_document_id -> Text,
        status -> Text,
        note -> Nullable<Text>,
        declared_by -> Text,
        declared_at -> Timestamp,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    certificate_checks (id) {
        id -> BigInt,
        ip -> Text,
        checked_at -> Timestamp,
    }
}

diesel::table! {
    registration_serials (prefix) {
        prefix -> Text,
        last_serial -> BigInt,
    }
}

diesel::table! {
    payments (id) {
        id -> Text,
        deal_id -> Text,
        method -> Text,
        status -> Text,
        amount_fen -> BigInt,
        paid_on -> Nullable<Date>,
        reference -> Nullable<Text>,
        stripe_payment_intent_id -> Nullable<Text>,
        failure_reason -> Nullable<Text>,
        created_by -> Text,
        confirmed_by -> Nullable<Text>,
        confirmed_at -> Nullable<Timestamp>,
        refunded_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        refunded_amount_fen -> BigInt,
    }
}

diesel::table! {
    listing_reservations (listing_id) {
        listing_id -> Text,
        deal_id -> Text,
        trade_mode -> Text,
        reserved_at -> Timestamp,
    }
}

diesel::table! {
    stripe_events (event_id) {
        event_id -> Text,
        event_type -> Text,
        payment_id -> Nullable<Text>,
        received_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (user_id,idempotency_key) {
        user_id -> Text,
        idempotency_key -> Text,
        request_fingerprint -> Text,
        status_code -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    subsidy_claims (id) {
        id -> Text,
        program_id -> Text,
        year -> Integer,
        role -> Text,
        organization_id -> Text,
        status -> Text,
        computed_amount_fen -> BigInt,
        approved_amount_fen -> Nullable<BigInt>,
        final_amount_fen -> Nullable<BigInt>,
        calculation -> Text,
        policy_digest -> Text,
        submitted_by -> Text,
        submitted_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        status_reason -> Nullable<Text>,
    }
}

diesel::table! {
    claim_reviews (id) {
        id -> Text,
        claim_id -> Text,
        level -> Integer,
        reviewer_id -> Text,
        decision -> Text,
        amount_fen -> Nullable<BigInt>,
        reason -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    subsidy_rounds (id) {
        id -> Text,
        program_id -> Text,
        year -> Integer,
        status -> Text,
        budget_fen -> Nullable<BigInt>,
        total_approved_fen -> BigInt,
        total_final_fen -> BigInt,
        closed_by -> Text,
        closed_at -> Timestamp,
        notice_until -> Nullable<Date>,
    }
}

diesel::table! {
    disbursements (id) {
        id -> Text,
        round_id -> Text,
        claim_id -> Text,
        organization_id -> Text,
        amount_fen -> BigInt,
        status -> Text,
        paid_on -> Nullable<Date>,
        reference -> Nullable<Text>,
        recorded_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        event_type -> Text,
        aggregate_type -> Text,
        aggregate_id -> Text,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    consumer_leases (consumer) {
        consumer -> Text,
        holder -> Text,
        lease_until -> Timestamp,
        acquired_at -> Timestamp,
    }
}

diesel::table! {
    outbox_cursors (consumer) {
        consumer -> Text,
        last_event_id -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    jobs (id) {
        id -> BigInt,
        queue -> Text,
        dedupe_key -> Nullable<Text>,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        max_attempts -> Integer,
        run_at -> Timestamp,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sent_emails (id) {
        id -> Text,
        outbox_event_id -> BigInt,
        template -> Text,
        recipient -> Text,
        locale -> Text,
        status -> Text,
        attempts -> Integer,
        message_id -> Nullable<Text>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        user_id -> Nullable<Text>,
        context -> Nullable<Text>,
        subject -> Nullable<Text>,
        next_attempt_at -> Nullable<Timestamp>,
        lease_until -> Nullable<Timestamp>,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_chain (id) {
        id -> Integer,
        last_seq -> BigInt,
        last_hash -> Text,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        actor_user_id -> Nullable<Text>,
        action -> Text,
        subject_type -> Text,
        subject_id -> Text,
        before_state -> Nullable<Text>,
        after_state -> Nullable<Text>,
        request_id -> Nullable<Text>,
        created_at -> Timestamp,
        prev_hash -> Text,
        hash -> Text,
        organization_id -> Nullable<Text>,
        outcome -> Text,
        keyed -> Bool,
    }
}

diesel::joinable!(users -> organizations (organization_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(password_resets -> users (user_id));
diesel::joinable!(second_factors -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::joinable!(login_challenges -> users (user_id));
diesel::joinable!(listings -> organizations (owner_organization_id));
diesel::joinable!(listings -> users (created_by));
diesel::joinable!(listing_patents -> listings (listing_id));
diesel::joinable!(demands -> organizations (owner_organization_id));
diesel::joinable!(demands -> users (created_by));
diesel::joinable!(moderation_reviews -> users (reviewer_id));
diesel::joinable!(saved_searches -> users (user_id));
diesel::joinable!(saved_search_alerts -> saved_searches (saved_search_id));
diesel::joinable!(deals -> listings (listing_id));
diesel::joinable!(deals -> demands (demand_id));
diesel::joinable!(deals -> users (created_by));
diesel::joinable!(offers -> deals (deal_id));
diesel::joinable!(offers -> organizations (organization_id));
diesel::joinable!(offers -> users (created_by));
diesel::joinable!(contracts -> deals (deal_id));
diesel::joinable!(contracts -> users (created_by));
diesel::joinable!(registrations -> deals (deal_id));
diesel::joinable!(registrations -> users (official_id));
diesel::joinable!(payments -> deals (deal_id));
diesel::joinable!(stripe_events -> payments (payment_id));
diesel::joinable!(idempotency_keys -> users (user_id));
diesel::joinable!(subsidy_claims -> organizations (organization_id));
diesel::joinable!(subsidy_claims -> users (submitted_by));
diesel::joinable!(claim_reviews -> subsidy_claims (claim_id));
diesel::joinable!(claim_reviews -> users (reviewer_id));
diesel::joinable!(subsidy_rounds -> users (closed_by));
diesel::joinable!(disbursements -> subsidy_rounds (round_id));
diesel::joinable!(disbursements -> subsidy_claims (claim_id));
diesel::joinable!(disbursements -> organizations (organization_id));
diesel::joinable!(disbursements -> users (recorded_by));
diesel::joinable!(sent_emails -> outbox (outbox_event_id));
diesel::joinable!(registration_application_events -> registration_applications (application_id));
diesel::joinable!(registration_changes -> registration_applications (application_id));
diesel::joinable!(registration_documents -> registration_applications (application_id));
diesel::joinable!(registration_payments -> registration_applications (application_id));
diesel::joinable!(registration_payments -> registration_documents (proof_document_id));

diesel::allow_tables_to_appear_in_same_query!(
    organizations,
    users,
    sessions,
    login_attempts,
    password_resets,
    second_factors,
    recovery_codes,
    login_challenges,
    registration_attempts,
    listings,
    listing_patents,
    demands,
    moderation_reviews,
    saved_searches,
    saved_search_alerts,
    deals,
    offers,
    contracts,
    registrations,
    registration_serials,
    registration_applications,
    registration_application_events,
    registration_changes,
    registration_documents,
    registration_payments,
    certificate_checks,
    payments,
    payment_refunds,
    listing_reservations,
    stripe_events,
    idempotency_keys,
    subsidy_claims,
    claim_reviews,
    subsidy_rounds,
    disbursements,
    outbox,
    outbox_cursors,
    consumer_leases,
    jobs,
    sent_emails,
    audit_chain,
    audit_log,
);
