-- 0001_registry: the vehicle registry (车辆登记库), its black/white/exemption lists,
-- the change log the edge caches from, and the operator roles.
--
-- PostgreSQL is the registry's source of truth. The verifier decides from a copy in
-- Redis (and a local snapshot) so a gate keeps working when the core is away; that
-- copy is fed by the compacted Kafka topic ecogate.registry.v1, which a publisher fills
-- from registry_change below. Field sets follow the ledger template (DOMAIN.md §2) and
-- the code tables of DOMAIN.md §6; the Chinese names are the template's.
--
-- Applied by `ecogatectl migrate` inside one transaction; never edit this file once
-- released (its checksum is recorded): change the schema in a new migration.

-- char_length() counts characters only under UTF8, and plates are Chinese: refuse to
-- build the registry on a database whose encoding would make the checks count bytes.
DO $$
BEGIN
	IF current_setting('server_encoding') <> 'UTF8' THEN
		RAISE EXCEPTION 'ecogate needs a UTF8 database, this one is %',
		    current_setting('server_encoding');
	END IF;
END
$$;

-- One sequence orders every registry change (vehicles and list entries alike), so
-- "everything after version N" is one indexed range scan for the changelog publisher.
CREATE SEQUENCE registry_version_seq AS bigint;

-- Vehicles and machines known to the plant. Unknown vehicles may still pass (policy
-- decides); a row here supplies the facts the decision and the ledger need.
CREATE TABLE vehicle (
	-- 车牌号码 as read at the gate, normalised (no spaces or '·'). For non-road
	-- machinery (category nrmm) it is the environmental plate or 登记编码 the gate
	-- reads, hence the longer limit there.
	plate		text NOT NULL,
	-- 号牌颜色: one canonical enum; per-system codes are mapped at the edges.
	plate_colour	text NOT NULL,
	-- 号牌种类 (GA 36 two-digit code: 01 大型汽车, 02 小型汽车, 51/52 新能源 ...).
	plate_kind	text,
	-- external: a carrier's vehicle; own_fleet: the plant's own or in-plant
	-- (厂内运输车辆); nrmm: 非道路移动机械.
	category	text NOT NULL DEFAULT 'external',
	vin		text,		-- 车辆识别代号 (VIN), 17 characters
	engine_no	text,		-- 发动机号码 (≤32)
	registered_on	date,		-- 注册日期
	vehicle_type	text,		-- 车辆类型 (GA 802: H11 重型货车, Q11 半挂牵引车 ...)
	vehicle_model	text,		-- 车辆型号
	fuel_type	text,		-- 燃料种类 (A 汽油, B 柴油, C 电, ... Z 其他)
	-- 排放阶段: '0'..'6' = 国0..国6, 'D' = electric, 'X' = none (NRMM).
	emission_stage	text,
	-- Where the stage came from, best first: manifest = 随车清单 (信息公开编号),
	-- lookup = 信息公开 query by VIN, platform = the regulator's check API,
	-- inferred = registration-date heuristic (推定; shown as such to inspectors).
	emission_source	text,
	info_public_no	text,		-- 信息公开编号 from the 随车清单
	use_nature	text,		-- 使用性质 (A 非营运, F 货运, R 危化品运输 ...)
	fleet_name	text,		-- 车队名称 (own, private, or the carrier's licence name)
	owner_name	text,		-- 所有人
	nrmm_reg_code	text,		-- 非道路移动机械 登记编码 (format not public: free text)
	nrmm_produced_on date,		-- 生产日期
	nrmm_pin	text,		-- 机械代码 / PIN
	nrmm_machine_type text,		-- 机械种类 (loader, excavator, forklift ...)
	note		text,		-- 备注
	-- Set from registry_version_seq on every insert and update by the trigger (no
	-- DEFAULT: a default would need USAGE on the sequence from the writer).
	version		bigint NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),

	PRIMARY KEY (plate, plate_colour),
	CONSTRAINT vehicle_plate_ck CHECK (plate ~ '^\S+$' AND char_length(plate) <=
	    CASE category WHEN 'nrmm' THEN 32 ELSE 10 END),
	CONSTRAINT vehicle_plate_colour_ck CHECK (plate_colour IN ('blue', 'yellow',
	    'green', 'yellow_green', 'white', 'black', 'other')),
	CONSTRAINT vehicle_plate_kind_ck CHECK (plate_kind ~ '^[0-9]{2}$'),
	CONSTRAINT vehicle_category_ck CHECK (category IN ('external', 'own_fleet',
	    'nrmm')),
	-- ISO 3779: 17 characters, never I, O or Q.
	CONSTRAINT vehicle_vin_ck CHECK (vin ~ '^[A-HJ-NPR-Z0-9]{17}$'),
	CONSTRAINT vehicle_engine_no_ck CHECK (char_length(engine_no) BETWEEN 1 AND 32),
	CONSTRAINT vehicle_type_ck CHECK (vehicle_type ~ '^[A-Z][0-9]{2}$'),
	CONSTRAINT vehicle_model_ck CHECK (char_length(vehicle_model) BETWEEN 1 AND 64),
	CONSTRAINT vehicle_fuel_ck CHECK (fuel_type IN ('A', 'B', 'C', 'D', 'E', 'F',
	    'L', 'M', 'N', 'O', 'Y', 'Z')),
	CONSTRAINT vehicle_stage_ck CHECK (emission_stage ~ '^[0-6DX]$'),
	CONSTRAINT vehicle_stage_source_ck CHECK (emission_source IN ('manifest',
	    'lookup', 'platform', 'inferred')),
	-- A stage without its evidence cannot be defended in an inspection.
	CONSTRAINT vehicle_stage_has_source_ck CHECK (emission_stage IS NULL OR
	    emission_source IS NOT NULL),
	CONSTRAINT vehicle_info_public_no_ck CHECK (char_length(info_public_no)
	    BETWEEN 1 AND 64),
	CONSTRAINT vehicle_use_nature_ck CHECK (use_nature ~ '^[A-Z]$'),
	CONSTRAINT vehicle_fleet_name_ck CHECK (char_length(fleet_name) BETWEEN 1 AND 100),
	CONSTRAINT vehicle_owner_name_ck CHECK (char_length(owner_name) BETWEEN 1 AND 100),
	CONSTRAINT vehicle_nrmm_reg_code_ck CHECK (char_length(nrmm_reg_code)
	    BETWEEN 1 AND 32),
	CONSTRAINT vehicle_nrmm_pin_ck CHECK (char_length(nrmm_pin) BETWEEN 1 AND 64),
	CONSTRAINT vehicle_nrmm_machine_type_ck CHECK (char_length(nrmm_machine_type)
	    BETWEEN 1 AND 32),
	CONSTRAINT vehicle_note_ck CHECK (char_length(note) <= 500)
);

COMMENT ON TABLE vehicle IS '车辆登记库: vehicles and NRMM known to the plant';
COMMENT ON COLUMN vehicle.emission_source IS
    '排放阶段依据: manifest 随车清单, lookup 信息公开查询, platform 平台核验, inferred 推定';

-- Inspectors look vehicles up by VIN as well as by plate.
CREATE INDEX vehicle_vin_idx ON vehicle (vin) WHERE vin IS NOT NULL;
CREATE INDEX vehicle_version_idx ON vehicle (version);

-- Black list (禁止), white list (放行) and exemptions (豁免: 应急运输 approvals,
-- 民生保障 cargo, special and hazardous-goods vehicles). Keyed by plate rather than by
-- a vehicle row: a banned carrier need not be registered first. History is kept:
-- an entry ends by setting valid_to, not by deleting it.
CREATE TABLE vehicle_list_entry (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	plate		text NOT NULL,			-- 车牌号码
	plate_colour	text NOT NULL,			-- 号牌颜色
	list		text NOT NULL,			-- 名单: blacklist / whitelist / exemption
	reason		text NOT NULL,			-- 原因 (shown to the operator)
	-- For exemptions: emergency_transport (应急运输), livelihood (民生保障),
	-- special (特种车辆), hazardous (危化品), other.
	exemption_kind	text,
	approval_no	text,				-- 审批/备案编号 when one exists
	valid_from	timestamptz NOT NULL DEFAULT now(),	-- 生效时间
	valid_to	timestamptz,				-- 失效时间; NULL: open-ended
	-- Where the entry came from: manual (ecogatectl), import (a file), platform
	-- (pushed by the regulator), or another system's name.
	source		text NOT NULL DEFAULT 'manual',
	created_by	text NOT NULL DEFAULT current_user,
	version		bigint NOT NULL,		-- set by the trigger, as in vehicle
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),

	CONSTRAINT list_plate_ck CHECK (plate ~ '^\S+$' AND char_length(plate) <= 32),
	CONSTRAINT list_plate_colour_ck CHECK (plate_colour IN ('blue', 'yellow',
	    'green', 'yellow_green', 'white', 'black', 'other')),
	CONSTRAINT list_list_ck CHECK (list IN ('blacklist', 'whitelist', 'exemption')),
	CONSTRAINT list_reason_ck CHECK (char_length(reason) BETWEEN 1 AND 200),
	CONSTRAINT list_exemption_kind_ck CHECK (exemption_kind IN
	    ('emergency_transport', 'livelihood', 'special', 'hazardous', 'other')),
	-- An exemption must say what kind it is: policy keys on it.
	CONSTRAINT list_exemption_has_kind_ck CHECK (list <> 'exemption' OR
	    exemption_kind IS NOT NULL),
	CONSTRAINT list_approval_no_ck CHECK (char_length(approval_no) BETWEEN 1 AND 64),
	CONSTRAINT list_valid_ck CHECK (valid_to IS NULL OR valid_to > valid_from),
	CONSTRAINT list_source_ck CHECK (char_length(source) BETWEEN 1 AND 32)
);

COMMENT ON TABLE vehicle_list_entry IS '黑名单/白名单/豁免名单 entries with validity';

CREATE INDEX vehicle_list_entry_plate_idx ON vehicle_list_entry (plate, plate_colour);
CREATE INDEX vehicle_list_entry_version_idx ON vehicle_list_entry (version);

-- The registry change log: one row per change, including deletes (which a version
-- column alone cannot show). The publisher reads "version > last published" and
-- produces to ecogate.registry.v1 keyed by plate. Sequence values are taken before
-- commit, so a slow transaction can commit a lower version after a higher one became
-- visible: the publisher must re-read a short window behind its high-water mark (or
-- wait until older transactions end) rather than trust a strict cursor.
CREATE TABLE registry_change (
	version		bigint PRIMARY KEY,
	entity		text NOT NULL,		-- vehicle / list
	op		text NOT NULL,		-- insert / update / delete
	plate		text NOT NULL,
	plate_colour	text NOT NULL,
	list_entry_id	bigint,			-- for entity = list
	changed_at	timestamptz NOT NULL DEFAULT now(),
	changed_by	text NOT NULL DEFAULT session_user,

	CONSTRAINT registry_change_entity_ck CHECK (entity IN ('vehicle', 'list')),
	CONSTRAINT registry_change_op_ck CHECK (op IN ('insert', 'update', 'delete'))
);

-- Stamps every written row with a fresh version and, on update, the time. SECURITY
-- DEFINER with a pinned search_path: operators need not (and must not) hold rights on
-- the sequence or the change log to write the registry.
CREATE FUNCTION registry_stamp() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
	NEW.version := nextval('registry_version_seq');
	IF TG_OP = 'UPDATE' THEN
		NEW.updated_at := now();
		NEW.created_at := OLD.created_at;
	END IF;
	RETURN NEW;
END
$$;

-- Appends the change to registry_change. A key change (plate or colour edited) is
-- logged as a delete of the old key and an update of the new one, so a cache keyed by
-- plate forgets the old key.
CREATE FUNCTION registry_log() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
	ent	text := CASE TG_TABLE_NAME WHEN 'vehicle' THEN 'vehicle' ELSE 'list' END;
	id	bigint;
BEGIN
	IF TG_OP = 'DELETE' THEN
		IF ent = 'list' THEN
			id := OLD.id;
		END IF;
		INSERT INTO registry_change (version, entity, op, plate, plate_colour,
		    list_entry_id)
		VALUES (nextval('registry_version_seq'), ent, 'delete', OLD.plate,
		    OLD.plate_colour, id);
		RETURN OLD;
	END IF;
	IF ent = 'list' THEN
		id := NEW.id;
	END IF;
	IF TG_OP = 'UPDATE' AND (OLD.plate, OLD.plate_colour) IS DISTINCT FROM
	    (NEW.plate, NEW.plate_colour) THEN
		INSERT INTO registry_change (version, entity, op, plate, plate_colour,
		    list_entry_id)
		VALUES (nextval('registry_version_seq'), ent, 'delete', OLD.plate,
		    OLD.plate_colour, id);
	END IF;
	INSERT INTO registry_change (version, entity, op, plate, plate_colour,
	    list_entry_id)
	VALUES (NEW.version, ent, lower(TG_OP), NEW.plate, NEW.plate_colour, id);
	RETURN NEW;
END
$$;

REVOKE ALL ON FUNCTION registry_stamp() FROM PUBLIC;
REVOKE ALL ON FUNCTION registry_log() FROM PUBLIC;

CREATE TRIGGER vehicle_stamp BEFORE INSERT OR UPDATE ON vehicle
    FOR EACH ROW EXECUTE FUNCTION registry_stamp();
CREATE TRIGGER vehicle_log AFTER INSERT OR UPDATE OR DELETE ON vehicle
    FOR EACH ROW EXECUTE FUNCTION registry_log();
CREATE TRIGGER vehicle_list_entry_stamp BEFORE INSERT OR UPDATE ON vehicle_list_entry
    FOR EACH ROW EXECUTE FUNCTION registry_stamp();
CREATE TRIGGER vehicle_list_entry_log AFTER INSERT OR UPDATE OR DELETE
    ON vehicle_list_entry FOR EACH ROW EXECUTE FUNCTION registry_log();

-- Roles (DESIGN §6). They are cluster-wide, so another database of the same cluster
-- may have made them already, possibly at this very moment: tolerate both.
-- NOLOGIN: people and services get their own login roles that are GRANTed one of these.
DO $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['ecogate_viewer', 'ecogate_operator', 'ecogate_admin']
	LOOP
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			BEGIN
				EXECUTE format('CREATE ROLE %I NOLOGIN', r);
			EXCEPTION WHEN duplicate_object OR unique_violation THEN
				NULL;
			END;
		END IF;
	END LOOP;
END
$$;

-- Each role includes the one below it: admin ⊃ operator ⊃ viewer.
GRANT ecogate_viewer TO ecogate_operator;
GRANT ecogate_operator TO ecogate_admin;

GRANT USAGE ON SCHEMA public TO ecogate_viewer;

-- viewer (环保专员 reading, inspectors, reports): read everything here.
GRANT SELECT ON vehicle, vehicle_list_entry, registry_change TO ecogate_viewer;

-- operator (keeps the registry): add and change vehicles and list entries. No DELETE:
-- a list entry ends with valid_to; removing vehicles is the admin's call.
GRANT INSERT, UPDATE ON vehicle, vehicle_list_entry TO ecogate_operator;

-- admin: everything on the registry, including deletes and the sequence.
GRANT ALL ON vehicle, vehicle_list_entry, registry_change TO ecogate_admin;
GRANT ALL ON SEQUENCE registry_version_seq TO ecogate_admin;
